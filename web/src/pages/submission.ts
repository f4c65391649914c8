// `/submissions/<id>`: one submission's state, live log and result. Reload-safe: the
// stream replays what happened so far.

import { api, ApiError, type Submission } from "../api";
import { describe } from "../alert";
import { h, markReady, setTitle, time } from "../dom";
import { Grading } from "../grading";
import type { Cleanup, PageContext } from "../router";

export async function submissionPage({ main, params, signal }: PageContext): Promise<Cleanup | void> {
  const id = params.id!;
  const short = id.slice(0, 8);
  setTitle(`Submission ${short}`);
  const loading = h("p", { class: "muted" }, "Loading the submission…");
  main.append(loading);

  let sub: Submission;
  try {
    sub = await api.submission(id);
  } catch (err) {
    if (signal.aborted) return;
    loading.remove();
    const notFound = err instanceof ApiError && err.status === 404;
    setTitle(notFound ? "Submission not found" : "Error");
    main.append(
      h("h1", { tabindex: -1 }, notFound ? "Submission not found" : "This submission could not be loaded"),
      h("div", { role: "alert", class: "alert" }, h("p", null, notFound ? `There is no submission ${id}.` : describe(err).message)),
    );
    markReady();
    return;
  }
  // The title for the link back; the id stands in if the exercise is gone.
  const title = await api.exercise(sub.exercise).then((e) => e.title, () => sub.exercise);
  if (signal.aborted) return;
  loading.remove();

  const grading = new Grading();
  main.append(
    h("h1", { tabindex: -1 }, `Submission ${short}`),
    h(
      "p",
      { class: "submission-meta" },
      "Exercise: ",
      h("a", { href: `/exercises/${encodeURIComponent(sub.exercise)}` }, title),
      ` · by ${sub.display_name} · `,
      time(sub.created_at),
    ),
    grading.el,
  );
  grading.follow(sub.id, sub);
  markReady();
  return () => grading.stop();
}
