// A client-side router on the History API over the app's four URLs. Links keep real
// hrefs (the server answers index.html for every app URL), so a link opened in a new
// tab, or followed before the script runs, lands on the same page.

import { clearReady } from "./dom";

/** What a page's render returns: a function that stops its timers and streams. */
export type Cleanup = () => void;
export interface PageContext {
  main: HTMLElement;
  url: URL;
  params: Record<string, string>;
  /** Set when the page was reached by an in-app navigation (not the first load). */
  navigated: boolean;
  /** Aborted when the reader leaves the page: check it after every await. */
  signal: AbortSignal;
}
export type Page = (ctx: PageContext) => Cleanup | void | Promise<Cleanup | void>;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: Page;
}

const routes: Route[] = [];
let notFound: Page = () => {};
let cleanup: Cleanup | null = null;
let main: HTMLElement;
let controller: AbortController | null = null;

/** Adds a route: `path` like `/exercises/:id`. */
export function route(path: string, page: Page): void {
  const keys: string[] = [];
  const source = path.replace(/:([a-z]+)/g, (_, k: string) => {
    keys.push(k);
    return "([^/]+)";
  });
  routes.push({ pattern: new RegExp(`^${source}/?$`), keys, page });
}

export function setNotFound(page: Page): void {
  notFound = page;
}

export function navigate(to: string, replace = false): void {
  const url = new URL(to, location.href);
  // Following a link to the page already shown reloads its data without stacking a
  // second history entry.
  if (replace || url.href === location.href) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  void render(true);
}

/** Starts routing: renders the current URL, then follows links and back/forward. */
export function start(mainEl: HTMLElement): void {
  main = mainEl;
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => void render(true));
  void render(false);
}

function onClick(ev: MouseEvent): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = (ev.target as Element | null)?.closest?.("a");
  if (!a || !a.hasAttribute("href") || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/assets/")) return;
  // Same page, other fragment: let the browser scroll (the skip link).
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  if (!match(url.pathname)) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
}

function match(pathname: string): { page: Page; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (m) {
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]!);
      });
      return { page: r.page, params };
    }
  }
  return null;
}

async function render(navigated: boolean): Promise<void> {
  controller?.abort();
  cleanup?.();
  cleanup = null;
  const ctl = new AbortController();
  controller = ctl;
  clearReady();
  const url = new URL(location.href);
  const found = match(url.pathname);
  main.replaceChildren();
  markCurrentNav(url.pathname);
  const page = found?.page ?? notFound;
  const result = await page({ main, url, params: found?.params ?? {}, navigated, signal: ctl.signal });
  if (ctl.signal.aborted) {
    // Another navigation started while this page loaded: stop what it started.
    result?.();
    return;
  }
  cleanup = result ?? null;
  if (navigated) {
    // Move focus to the new page's heading so screen readers announce it, and start
    // at the top as a full page load would.
    window.scrollTo(0, 0);
    main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
  }
}

function markCurrentNav(pathname: string): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    const path = new URL(a.href).pathname;
    const here = path === "/" ? pathname === "/" || pathname.startsWith("/exercises/") : pathname.startsWith(path);
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}
