// The page's one `role=alert` element, for errors a learner can act on. A countdown
// (rate limit, busy) updates its number every second without re-announcing the whole
// alert: the number sits in an `aria-live=off` span.

import { ApiError } from "./api";
import { h, replace } from "./dom";

export class Alert {
  readonly el = h("div", { role: "alert", class: "alert", "data-empty": "" });
  private timer: number | null = null;

  clear(): void {
    this.stopTimer();
    this.el.replaceChildren();
    this.el.setAttribute("data-empty", "");
  }

  /** Shows a message; `extra` lines (e.g. the server's details) go below it. */
  show(message: string | Node, ...extra: (string | Node)[]): void {
    this.stopTimer();
    this.el.removeAttribute("data-empty");
    replace(this.el, h("p", null, message), ...extra.map((e) => (typeof e === "string" ? h("p", null, e) : e)));
  }

  /**
   * Shows `before N after`, counting N down to 0 once a second, then calls `done`
   * (which usually re-enables Submit and says so).
   */
  countdown(seconds: number, before: string, after: string, done: () => void, ...extra: (string | Node)[]): void {
    const n = h("span", { "aria-live": "off" }, String(seconds));
    this.show(h("span", null, before, n, after), ...extra);
    let left = seconds;
    const end = Date.now() + seconds * 1000;
    this.timer = window.setInterval(() => {
      // From the clock, not by counting ticks: timers in background tabs are throttled.
      left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      n.textContent = String(left);
      if (left <= 0) {
        this.stopTimer();
        done();
      }
    }, 250);
  }

  private stopTimer(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }
}

/** The generic wording for an error that has no special handling. */
export function describe(err: unknown): { message: string; details: string[] } {
  if (err instanceof ApiError) return { message: err.message, details: err.details };
  return { message: "Something went wrong in this page. Reload it and try again.", details: [] };
}
