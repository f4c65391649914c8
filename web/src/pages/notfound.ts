import { h, markReady, setTitle } from "../dom";
import type { PageContext } from "../router";

export function notFoundPage({ main, url }: PageContext): void {
  setTitle("Page not found");
  main.append(
    h("h1", { tabindex: -1 }, "Page not found"),
    h("p", null, `Nothing lives at ${url.pathname}. The links at the top of the page lead to the exercises and the leaderboard.`),
  );
  markReady();
}
