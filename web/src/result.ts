// Renders a grade result (docs/results.md): the score as "Score: N", the outcome in
// words, the learner-facing message (limits, compile errors, Gauntlet's notes) and the
// tests in the order they ran, the first failure expanded.

import type { GradeResult, TestResult } from "./api";
import { h, uid } from "./dom";

const OUTCOMES: Record<string, string> = {
  passed: "Passed",
  failed: "Failed",
  compile_error: "Compile error",
  wall_timeout: "Time limit",
  idle_timeout: "Idle timeout",
  cpu_timeout: "CPU time limit",
  memory_limit: "Memory limit",
  output_limit: "Output limit",
  internal_error: "Internal error",
};

const LIMITS = new Set(["wall_timeout", "idle_timeout", "cpu_timeout", "memory_limit", "output_limit"]);

export function outcomeWords(outcome: string): string {
  return OUTCOMES[outcome] ?? outcome.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

const STATUS_WORDS: Record<string, string> = { pass: "pass", fail: "fail", error: "error", skip: "skipped" };
const STATUS_MARKS: Record<string, string> = { pass: "✓", fail: "✗", error: "!", skip: "–" };

/** Gauntlet's own notes in the log (`[gauntlet] …`), without the prefix. */
function gauntletNotes(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => l.startsWith("[gauntlet] "))
    .map((l) => l.slice("[gauntlet] ".length));
}

/** The last lines of the log, for a compile error: where the compiler's message is. */
function logTail(log: string, lines = 40): string {
  const all = log.replace(/\n+$/, "").split("\n").filter((l) => !l.startsWith("[gauntlet] "));
  // The stream prefixes ([test:err] …) say nothing here: the compiler's text reads
  // better without them.
  const tail = all.slice(-lines).map((l) => l.replace(/^\[(?:test:out|test:err|service)\] ?/, ""));
  return (all.length > lines ? "…\n" : "") + tail.join("\n");
}

function message(result: GradeResult): HTMLElement | null {
  const notes = gauntletNotes(result.log);
  const o = result.outcome;
  const parts: HTMLElement[] = [];
  if (LIMITS.has(o)) {
    const limitsTest = result.tests.find((t) => t.name === "limits" && t.message);
    const lines = notes.length ? notes : limitsTest?.message ? [limitsTest.message] : [];
    parts.push(...lines.map((l) => h("p", null, l)));
    parts.push(h("p", { class: "muted" }, "Tests that passed before the run was stopped still count."));
  } else if (o === "compile_error") {
    parts.push(h("p", null, "The code did not compile or load, so no test ran. What it printed last:"));
    parts.push(...notes.map((l) => h("p", null, l)));
    const tail = logTail(result.log);
    if (tail) parts.push(h("pre", { class: "log-excerpt" }, tail));
  } else if (o === "internal_error") {
    parts.push(h("p", null, "Gauntlet could not grade this submission. This is not a problem with your code: try again."));
    if (result.reason) parts.push(h("p", null, result.reason));
    parts.push(...notes.map((l) => h("p", null, l)));
  } else if (notes.length) {
    parts.push(...notes.map((l) => h("p", null, l)));
  }
  if (!parts.length) return null;
  return h("div", { class: `result-message${o === "passed" ? "" : " result-message-warn"}` }, ...parts);
}

function testItem(t: TestResult, open: boolean): HTMLElement {
  const badge = h(
    "span",
    { class: `badge badge-${t.status}` },
    h("span", { "aria-hidden": "true" }, STATUS_MARKS[t.status] ?? "?"),
    " ",
    STATUS_WORDS[t.status] ?? t.status,
  );
  const name = h("span", { class: "test-name" }, t.name);
  if (t.status === "pass" || !t.message) {
    return h("li", { class: `test test-${t.status}` }, badge, " ", name);
  }
  return h(
    "li",
    { class: `test test-${t.status}` },
    h("details", { open }, h("summary", null, badge, " ", name), h("pre", { class: "test-message" }, t.message)),
  );
}

/** The result element; the caller marks it rendered (performance mark and timestamp). */
export function renderResult(result: GradeResult): HTMLElement {
  const testsId = uid("tests");
  const firstFailure = result.tests.findIndex((t) => (t.status === "fail" || t.status === "error") && t.message);
  const tests = result.tests.length
    ? h("ol", { class: "tests", "aria-labelledby": testsId }, ...result.tests.map((t, i) => testItem(t, i === firstFailure)))
    : h("p", { class: "muted" }, "No test reported a result.");
  const passed = result.tests.filter((t) => t.status === "pass").length;
  const seconds = `${(result.duration_ms / 1000).toFixed(1)} s`;
  const headingId = uid("result");
  return h(
    "section",
    { class: `result result-${result.outcome}`, "aria-labelledby": headingId },
    h("h3", { id: headingId, class: "visually-hidden" }, "Result"),
    h(
      "div",
      { class: "result-head" },
      h("p", { class: "score" }, `Score: ${result.score}`),
      h("p", { class: "outcome" }, outcomeWords(result.outcome)),
      h(
        "p",
        { class: "result-facts muted" },
        result.tests.length
          ? `${result.points} of ${result.max_points} points · ${passed} of ${result.tests.length} tests passing · ${seconds}`
          : `ran for ${seconds}`,
      ),
    ),
    message(result),
    h("h4", { id: testsId }, "Tests"),
    tests,
  );
}
