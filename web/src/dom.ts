// Small DOM helpers: the app builds its pages with these instead of a framework.
// Text always goes in as text nodes (never innerHTML), so nothing from the API can
// inject markup; the one exception is the statement, which the server sanitises.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element. `attrs` keys starting with `on` add event listeners
 * (`onclick`), `true` sets a boolean attribute, `false`/`null`/`undefined` skip it.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/** Replaces all children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

let idCounter = 0;
/** A document-unique id for aria-labelledby/aria-controls pairs. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A `<section>` that is an ARIA region named by its own heading. */
export function region(
  title: string,
  level: "h2" | "h3" = "h2",
  attrs: Attrs = {},
  ...children: Child[]
): { section: HTMLElement; heading: HTMLHeadingElement } {
  const id = uid("region");
  const heading = h(level, { id }, title);
  const section = h("section", { ...attrs, "aria-labelledby": id }, heading, ...children);
  return { section, heading };
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
/** A `<time>` for a Unix time in milliseconds, shown in the reader's locale. */
export function time(ms: number): HTMLTimeElement {
  const d = new Date(ms);
  return h("time", { datetime: d.toISOString() }, dateFmt.format(d));
}

/** Sets the document's title and marks the page as not ready until it renders. */
export function setTitle(title: string): void {
  document.title = title ? `${title} · Gauntlet` : "Gauntlet";
}

/**
 * The readiness marker of the contract: the page has rendered its data (and, on the
 * exercise page, the editor is mounted). Tests and the benchmark wait for it.
 */
export function markReady(): void {
  document.documentElement.dataset.ready = "1";
  performance.mark("gauntlet:interactive");
}

export function clearReady(): void {
  delete document.documentElement.dataset.ready;
}
