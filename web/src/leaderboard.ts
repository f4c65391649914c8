// The leaderboard table (Rank, Name, Score) of one exercise, used on the exercise page
// and on /leaderboard. Rows under a name this browser uses are marked "(you)".

import { api, getSession, type LeaderboardEntry } from "./api";
import { h, replace } from "./dom";
import { displayName } from "./name";

export class LeaderboardTable {
  readonly el: HTMLElement;
  private readonly body = h("tbody");
  private readonly table: HTMLTableElement;
  private readonly empty = h("p", { class: "muted" });
  private seq = 0;

  constructor(caption?: string) {
    this.table = h(
      "table",
      { class: "leaderboard" },
      caption ? h("caption", null, caption) : null,
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Rank"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Score"))),
      this.body,
    );
    this.el = h("div", { class: "leaderboard-box" }, this.table, this.empty);
    this.table.hidden = true;
    this.empty.textContent = "Loading…";
  }

  setCaption(text: string): void {
    const cap = this.table.caption;
    if (cap) cap.textContent = text;
  }

  /** Loads (or reloads) the exercise's entries; a slower earlier load never wins. */
  async load(exercise: string): Promise<void> {
    const seq = ++this.seq;
    let entries: LeaderboardEntry[];
    let mine: Set<string>;
    try {
      const [e, session] = await Promise.all([
        api.leaderboard(exercise),
        getSession().catch(() => null),
      ]);
      entries = e;
      mine = new Set([displayName(), ...(session?.display_names ?? [])].map((n) => n.toLowerCase()));
    } catch {
      if (seq === this.seq) {
        this.table.hidden = true;
        this.empty.hidden = false;
        this.empty.textContent = "The leaderboard could not be loaded.";
      }
      return;
    }
    if (seq !== this.seq) return;
    this.render(entries, mine);
  }

  private render(entries: LeaderboardEntry[], mine: Set<string>): void {
    this.table.hidden = entries.length === 0;
    this.empty.hidden = entries.length > 0;
    this.empty.textContent = "No scores yet: be the first.";
    replace(
      this.body,
      ...entries.map((e, i) => {
        const you = mine.has(e.display_name.toLowerCase());
        return h(
          "tr",
          { class: you ? "you" : null },
          h("td", null, String(i + 1)),
          h("td", null, e.display_name, you ? h("span", { class: "you-tag" }, " (you)") : null),
          h("td", { class: "num" }, String(e.score)),
        );
      }),
    );
  }
}

const LAST = "gauntlet:last-exercise";

/** The exercise page records itself, so /leaderboard opens on the one last worked on. */
export function rememberExercise(id: string): void {
  try {
    localStorage.setItem(LAST, id);
  } catch {
    /* storage disabled */
  }
}

export function lastExercise(): string | null {
  try {
    return localStorage.getItem(LAST);
  } catch {
    return null;
  }
}
