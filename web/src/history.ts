// "Your submissions": this session's submissions of one exercise, newest first, each a
// link to its result page.

import { api, type SubmissionSummary } from "./api";
import { h, region, replace, time } from "./dom";

// Not the status words "Queued"/"Running": those belong to the grading status alone.
const PENDING: Record<string, string> = { queued: "waiting in the queue", running: "being graded" };

export class History {
  readonly el: HTMLElement;
  private readonly list = h("ol", { class: "history" });
  private readonly empty = h("p", { class: "muted" }, "Loading…");
  private seq = 0;
  current: string | null = null;

  constructor(private readonly exercise: string) {
    this.el = region("Your submissions", "h2", { class: "history-region" }, this.empty, this.list).section;
    this.list.hidden = true;
  }

  async load(): Promise<void> {
    const seq = ++this.seq;
    let subs: SubmissionSummary[];
    try {
      subs = await api.mySubmissions(this.exercise);
    } catch {
      if (seq === this.seq) this.empty.textContent = "Your submissions could not be loaded.";
      return;
    }
    if (seq !== this.seq) return;
    this.list.hidden = subs.length === 0;
    this.empty.hidden = subs.length > 0;
    this.empty.textContent = "You have not submitted anything for this exercise yet.";
    replace(
      this.list,
      ...subs.map((s) => {
        // internal_error has no score: say what happened instead.
        const what =
          s.state !== "finished"
            ? PENDING[s.state] ?? s.state
            : s.score === null
              ? (s.outcome ?? "no result").replace(/_/g, " ")
              : `${s.score}/100`;
        return h(
          "li",
          null,
          h(
            "a",
            { href: `/submissions/${encodeURIComponent(s.id)}`, "aria-current": s.id === this.current ? "true" : null },
            h("span", { class: "history-score" }, what),
            " · ",
            time(s.created_at),
          ),
          s.display_name ? h("span", { class: "muted" }, ` as ${s.display_name}`) : null,
        );
      }),
    );
  }
}
