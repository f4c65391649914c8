'use strict';
// The warm preamble of Gauntlet's node runtime: a jail started ahead of its job, with
// node and the trusted runner already loaded.
//
// Gauntlet's runtimes ship this file (source: crates/grader/runners/) at
// .gauntlet/runner/warm.js, beside the judge. The host starts it as the jail's
// command, every isolation layer already on, cwd /workspace (the exercise's files,
// read-only lower layer under a writable upper), before any job exists:
//
//   node /workspace/.gauntlet/runner/warm.js -- CMD [ARG]...
//
// where CMD ARG... is the exercise's test command (`node --test ... tests/x.test.js`,
// `node tests/run.js`, ...).
//
// The protocol is warm-job.js's (beside this file), which receives the job:
//
// 1. Warm-up: load what the test command will need (for `node SCRIPT`: judge.js, which
//    has no side effect at load), print nothing, then serve the job (warm-job.js:
//    write `R` to fd 4, read the job, write its files into the workspace).
// 2. Apply the header's environment, then run the test command as if started
//    directly: `node SCRIPT ARGS` runs in this process as node runs a main module
//    (process.argv = [execPath, absolute script, ...ARGS], require.main, exit status,
//    through Module.runMain); anything else (`node --test ...`, `sh ...`) runs as a
//    child with our stdio and the results channel, its exit status (or the signal
//    that ended it, re-raised on this process) passed on. Node 20 cannot exec
//    (process.execve came in Node 22.15/23.11), so a child it is: the jail was up
//    already, which is most of the gain.
//
// Decisions beyond the protocol (as in warm.py): the command runs as a child rather
// than in-process when the header's environment sets PATH or a NODE_* or UV_*
// variable (node read those at its start), when `node` on PATH is not this node, or
// when the script is not a regular file once the job is in; a command that cannot be
// started: `gauntlet-warm: CMD: <error>` and status 127 (not found) or 126. A
// preamble started wrongly (no `--`, no command, no GAUNTLET_JOB_FD) ends with status
// 125 and one line on stderr, as a bad job does.
//
// Why it is trusted: it is the runtime's file in the protected .gauntlet/ folder of
// the read-only layer, it runs before anything of the learner's exists, and what it
// runs after the job is the exercise's own test command (the learner's code still
// runs only in the judge's confined children). It writes only inside the workspace,
// never through a link.
//
// Why it is single-use: it serves one job, then becomes (or starts) that job's test
// process; the jail is torn down after it, like any other.

const fs = require('node:fs');
const path = require('node:path');
const { die, jobFdFromEnv, sameNode, serveJob, spawnCommand } = require('./warm-job.js');

// ---------------------------------------------------------------------------
// What to run

function plan(cmd) {
  if (cmd.length < 2 || !sameNode(cmd[0])) return { how: 'spawn' };
  const first = cmd[1];
  if (!first || first.startsWith('-')) return { how: 'spawn' }; // node's options: its own run
  return { how: 'script', script: first, args: cmd.slice(2) };
}

function warmUp(what) {
  if (what.how !== 'script') return;
  const judge = path.join(__dirname, 'judge.js');
  if (!fs.existsSync(judge)) return;
  try {
    require(judge); // the test script's require('../.gauntlet/runner/judge.js') reuses it
  } catch {
    // the script meets the same error itself, and reports it
  }
}

function runScript(script, args) {
  const Module = require('node:module');
  process.argv = [process.execPath, path.resolve(script), ...args];
  Module.runMain();
}

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] !== '--' || argv.length < 2) die('gauntlet-warm: usage: warm.js -- CMD [ARG]...');
  const cmd = argv.slice(1);
  const jobFd = jobFdFromEnv();
  let what = plan(cmd);
  warmUp(what);
  serveJob(jobFd, (env) => {
    Object.assign(process.env, env);
    if (what.how === 'script') {
      const names = Object.keys(env);
      if (names.some((k) => k === 'PATH' || k.startsWith('NODE_') || k.startsWith('UV_'))) {
        what = { how: 'spawn' };
      } else {
        let isFile = false;
        try {
          isFile = fs.statSync(what.script).isFile();
        } catch {}
        if (!isFile) what = { how: 'spawn' }; // node reports a missing script itself
      }
    }
    if (what.how === 'spawn') spawnCommand(cmd);
    else runScript(what.script, what.args);
  });
}

main();
