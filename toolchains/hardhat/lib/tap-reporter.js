// Mocha reporter for Gauntlet: TAP version 13, one line per test that mocha found,
// numbered 1..N, the plan `1..N` last (TAP allows it there; a run cut short therefore
// has no plan, which the grader treats as incomplete).
//
// Where the TAP goes: under Gauntlet, to the results channel (the descriptor named by
// GAUNTLET_RESULTS_FD; the runtime's results are `channel:tap`), and stdout gets one
// readable line per test for the learner's log. Run by hand (verify.sh), TAP on
// stdout. The learner's code (a contract) runs on the chain, never in this process:
// what reaches the report from it is text (revert reasons), kept inside its block.
//
// Unlike mocha's own `tap` reporter it accounts for every test: when a hook fails
// (a `beforeEach` that deploys, say) mocha skips the tests the hook guards and
// reports only the hook; this reporter reports each of those tests as `not ok`,
// with the hook's error, so a per-test score never counts tests that did not run
// as absent. A failing hook that guards no remaining test (an `after` hook) is
// reported as a line of its own.
//
// Failures carry a YAML block with `message` (the assertion or revert reason) and
// a short `stack`; pending tests are `ok … # SKIP`.

"use strict";

const fs = require("fs");
const Mocha = require("mocha");

const { Base } = Mocha.reporters;
const {
  EVENT_RUN_BEGIN,
  EVENT_RUN_END,
  EVENT_TEST_FAIL,
  EVENT_TEST_PASS,
  EVENT_TEST_PENDING,
} = Mocha.Runner.constants;

const STACK_LINES = 8;

// '#' starts a TAP directive and a line break ends the line: keep titles to one
// line without them.
function tapTitle(runnable) {
  return runnable
    .fullTitle()
    .replace(/#/g, "")
    .replace(CONTROL, "?")
    .replace(/[\s\u001c-\u001e\u0085]+/g, " ")
    .trim();
}

// Every kind of line break a TAP reader might split on, and the other control
// characters (a revert reason is the submission's text: it must stay inside its
// block, whatever it holds).
const LINE_BREAKS = /\r\n|[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/;
const CONTROL = /[\u0000-\u0008\u000e-\u001b\u007f]/g;

function yamlBlock(key, text) {
  const body = String(text)
    .split(LINE_BREAKS)
    .map((line) => `      ${line.replace(CONTROL, "?")}`)
    .join("\n");
  return `    ${key}: |-\n${body}`;
}

function shortStack(err) {
  if (!err || typeof err.stack !== "string") return undefined;
  const lines = err.stack.split("\n");
  // The first line repeats the message; keep the frames.
  const frames = lines.filter((line) => /^\s+at /.test(line)).slice(0, STACK_LINES);
  return frames.length > 0 ? frames.map((line) => line.trim()).join("\n") : undefined;
}

// Every test under `suite`, in mocha's run order.
function allTests(suite) {
  const tests = [...suite.tests];
  for (const child of suite.suites) tests.push(...allTests(child));
  return tests;
}

class GauntletTap extends Base {
  constructor(runner, options) {
    super(runner, options);
    const channel = process.env.GAUNTLET_RESULTS_FD
      ? Number(process.env.GAUNTLET_RESULTS_FD)
      : null;
    // Synchronous writes: nothing is lost if the process exits right after a line.
    const out =
      channel === null
        ? (line) => process.stdout.write(`${line}\n`)
        : (line) => fs.writeSync(channel, `${line}\n`);
    const say = channel === null ? () => {} : (line) => process.stdout.write(`${line}\n`);
    let n = 0;
    const reported = new Set();

    const pass = (test) => {
      reported.add(test);
      out(`ok ${++n} ${tapTitle(test)}`);
      say(`PASS: ${tapTitle(test)}`);
    };
    const skip = (test) => {
      reported.add(test);
      out(`ok ${++n} ${tapTitle(test)} # SKIP`);
      say(`SKIP: ${tapTitle(test)}`);
    };
    const notOk = (runnable, err, prefix = "") => {
      out(`not ok ${++n} ${tapTitle(runnable)}`);
      out("  ---");
      const message = err && err.message !== undefined ? String(err.message) : String(err);
      say(`FAIL: ${tapTitle(runnable)}\n${yamlBlock("message", `${prefix}${message}`)}`);
      out(yamlBlock("message", `${prefix}${message}`));
      const stack = shortStack(err);
      if (stack !== undefined) out(yamlBlock("stack", stack));
      out("  ...");
    };

    runner.once(EVENT_RUN_BEGIN, () => out("TAP version 13"));

    runner.on(EVENT_TEST_PASS, pass);
    runner.on(EVENT_TEST_PENDING, skip);

    runner.on(EVENT_TEST_FAIL, (runnable, err) => {
      if (runnable.type !== "hook") {
        reported.add(runnable);
        notOk(runnable, err);
        return;
      }
      // A hook failed: the tests it guards will not run. Report each as failed
      // now (mocha will not), or the hook itself when it guards none.
      const scope = runnable.parent;
      const victims = allTests(scope).filter(
        (test) => !reported.has(test) && test.state === undefined && !test.isPending(),
      );
      if (victims.length === 0) {
        notOk(runnable, err);
        return;
      }
      const hook = (runnable.originalTitle || runnable.title).replace(/\s+/g, " ");
      for (const test of victims) {
        reported.add(test);
        notOk(test, err, `not run: ${hook} failed: `);
      }
    });

    runner.once(EVENT_RUN_END, () => {
      // Tests mocha never reached (an aborted run): failed, not absent.
      for (const test of allTests(runner.suite)) {
        if (!reported.has(test) && test.state === undefined && !test.isPending()) {
          reported.add(test);
          notOk(test, "not run");
        }
      }
      const stats = runner.stats;
      out(`# tests ${n}`);
      out(`# pass ${stats.passes}`);
      if (stats.pending > 0) out(`# skip ${stats.pending}`);
      out(`# fail ${n - stats.passes - stats.pending}`);
      out(`1..${n}`);
      say(`${stats.passes} of ${n} tests passed`);
    });
  }
}

module.exports = GauntletTap;
