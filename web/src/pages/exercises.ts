// `/`: the exercises, each a link named by its title, with its runtime and the
// learner's best score so far.

import { api, getSession, type ExerciseSummary } from "../api";
import { describe } from "../alert";
import { h, markReady, setTitle } from "../dom";
import { runtimeName } from "../labels";
import type { PageContext } from "../router";

export async function exercisesPage({ main, signal, navigated }: PageContext): Promise<void> {
  setTitle("Exercises");
  const status = h("p", { class: "muted" }, "Loading the exercises…");
  main.append(h("h1", { tabindex: -1 }, "Exercises"), status);

  let exercises: ExerciseSummary[];
  let best: Record<string, number> = {};
  try {
    // Best scores change as the learner submits: ask again when coming back here.
    const [list, session] = await Promise.all([api.exercises(), getSession(navigated).catch(() => null)]);
    exercises = list;
    best = session?.best_scores ?? {};
  } catch (err) {
    if (signal.aborted) return;
    status.remove();
    main.append(h("div", { role: "alert", class: "alert" }, h("p", null, `The exercises could not be loaded: ${describe(err).message}`)));
    markReady();
    return;
  }
  if (signal.aborted) return;
  status.remove();

  if (!exercises.length) {
    main.append(h("p", null, "There are no exercises on this server yet."));
  } else {
    main.append(
      h(
        "ul",
        { class: "exercise-list" },
        ...exercises.map((ex) => {
          const score = best[ex.id];
          return h(
            "li",
            { class: "exercise-card" },
            h("a", { href: `/exercises/${encodeURIComponent(ex.id)}`, class: "exercise-link" }, ex.title),
            h(
              "p",
              { class: "exercise-meta" },
              h("span", { class: "tag" }, runtimeName(ex.runtime)),
              ex.submission === "archive" ? h("span", { class: "tag" }, "ZIP upload") : null,
              h("span", { class: score === undefined ? "muted" : "best" }, score === undefined ? "Not attempted" : `Best score: ${score}`),
            ),
            ex.available ? null : h("p", { class: "unavailable" }, `Not available right now: ${ex.unavailable_reason ?? "its runtime is not ready"}`),
          );
        }),
      ),
    );
  }
  markReady();
}
