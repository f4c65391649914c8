// `/leaderboard`: one exercise's leaderboard at a time, picked in a select labelled
// "Exercise" (kept in the URL as `?exercise=`).

import { api, type ExerciseSummary } from "../api";
import { describe } from "../alert";
import { h, markReady, setTitle, uid } from "../dom";
import { LeaderboardTable, lastExercise } from "../leaderboard";
import type { PageContext } from "../router";

export async function leaderboardPage({ main, url, signal }: PageContext): Promise<void> {
  setTitle("Leaderboard");
  main.append(h("h1", { tabindex: -1 }, "Leaderboard"));
  let exercises: ExerciseSummary[];
  try {
    exercises = await api.exercises();
  } catch (err) {
    if (signal.aborted) return;
    main.append(h("div", { role: "alert", class: "alert" }, h("p", null, `The exercises could not be loaded: ${describe(err).message}`)));
    markReady();
    return;
  }
  if (signal.aborted) return;
  if (!exercises.length) {
    main.append(h("p", null, "There are no exercises on this server yet."));
    markReady();
    return;
  }

  const wanted = url.searchParams.get("exercise") ?? lastExercise();
  const first = exercises.find((e) => e.id === wanted) ?? exercises[0]!;
  const selectId = uid("exercise");
  const select = h(
    "select",
    { id: selectId },
    ...exercises.map((e) => h("option", { value: e.id, selected: e.id === first.id }, e.title)),
  );
  const table = new LeaderboardTable(first.title);
  const show = async (id: string) => {
    const ex = exercises.find((e) => e.id === id);
    table.setCaption(ex ? `Best scores: ${ex.title}` : "");
    await table.load(id);
  };
  select.addEventListener("change", () => {
    window.history.replaceState(null, "", `/leaderboard?exercise=${encodeURIComponent(select.value)}`);
    void show(select.value);
  });
  main.append(h("div", { class: "field field-inline" }, h("label", { for: selectId }, "Exercise"), select), table.el);
  await show(first.id);
  if (signal.aborted) return;
  markReady();
}
