'use strict';
// The trusted half of a Gauntlet test runner for node exercises. Gauntlet's runtimes
// put it (source: crates/grader/runners/) in every prepared workspace at
// .gauntlet/runner/, read-only and out of reach of submissions; a package's test file
// requires it from there.
//
// Why the learner cannot forge a result: the learner's code never runs in a process
// that reports. `node --test` runs the test file, and each call into the learner's
// module happens in a fresh child (harness.js), started through confine.py in a
// Landlock domain of its own (it cannot read or list tests/, write the workspace,
// signal the test processes or open their /proc/<pid>/fd, and holds no descriptor
// but its stdio and its reply pipe: never the results channel), and inside that under
// Node's permission model: it may read only harness.js and the learner's own file,
// and may not write files, spawn processes, start workers, load addons, open the
// inspector or use WASI. Its stdout and stderr are captured here and only quoted in
// failure messages; its one reply is plain JSON data (exact types, no objects with
// their own equality) that this file compares with the expected value. A test that
// overruns its time limit kills the child and fails alone.
//
// Under Gauntlet the reporter of `node --test` writes to the results channel
// (`--test-reporter-destination=/dev/fd/3`, `results: channel:tap` or
// `channel:junit`), which only the test processes hold.
const { spawn } = require('node:child_process');
const path = require('node:path');
const util = require('node:util');

const HARNESS = path.join(__dirname, 'harness.js');
const CONFINE_MAIN = `import sys; sys.path.insert(0, ${JSON.stringify(__dirname)}); import confine; sys.exit(confine.main(sys.argv[1:]))`;

// What the code under test may not read: tests/ and whatever Gauntlet lists as hidden.
function hiddenPaths() {
  const hidden = [path.join(process.cwd(), 'tests')];
  for (const p of (process.env.GAUNTLET_HIDDEN || '').split('\n')) {
    if (p) hidden.push(p);
  }
  return hidden;
}
const OUTPUT_CAP = 4000;
// Milliseconds lost to timed-out children, after which no more children are started:
// an endless loop in every test would otherwise eat the run's CPU and wall-time
// limits and lose the partial credit of the tests that did pass.
const TIMEOUT_ALLOWANCE_MS = 12000;
let timedOutTotalMs = 0;

class Failure extends Error {
  constructor(message) {
    // No control characters (invalid in XML) or lone surrogates, whatever the learner's
    // code returned or printed.
    message = String(message)
      .toWellFormed()
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '?');
    super(message);
    this.name = 'Failure';
    this.stack = `Failure: ${message}`; // the judge's own frames would only be noise
  }
}

// Learner text in a message: every line behind "| ", so none of it can look like a
// TAP line ("ok 3", "...") to a lenient parser, whatever the reporter does with it.
function quote(text) {
  return String(text).split(/\r\n|[\n\r\u2028\u2029\u0085\v\f]/).map((l) => `| ${l}`).join('\n');
}

// The encoding of the author's expected values, in the same shape harness.js gives the
// learner's. Not shared with harness.js on purpose: that one trusts nothing and maps
// any value of an unusual prototype to `other`; this one reads values the author wrote
// in the test file (a class instance compares by its own keys). Keeping each in its own
// file also keeps the harness's read permission to two files: itself and the module.
function encode(value, depth = 0) {
  if (depth > 50) return { t: 'other', type: 'nested too deep' };
  if (value === null) return { t: 'null' };
  if (value === undefined) return { t: 'undefined' };
  const type = typeof value;
  if (type === 'boolean' || type === 'string') return { t: type, v: value };
  if (type === 'number') return { t: 'number', v: Number.isFinite(value) ? value : String(value) };
  if (type === 'bigint') return { t: 'bigint', v: String(value) };
  if (Array.isArray(value)) return { t: 'array', v: value.map((x) => encode(x, depth + 1)) };
  if (value instanceof Map) {
    return { t: 'map', v: Array.from(value, ([k, v]) => [encode(k, depth + 1), encode(v, depth + 1)]) };
  }
  return { t: 'object', v: Object.keys(value).map((k) => [k, encode(value[k], depth + 1)]) };
}

function decode(d) {
  switch (d.t) {
    case 'null': return null;
    case 'undefined': return undefined;
    case 'boolean': case 'string': return d.v;
    case 'number': return typeof d.v === 'number' ? d.v : Number(d.v);
    case 'bigint': return BigInt(d.v);
    case 'array': return d.v.map(decode);
    case 'object': return Object.fromEntries(d.v.map(([k, v]) => [k, decode(v)]));
    case 'map': return new Map(d.v.map(([k, v]) => [decode(k), decode(v)]));
    default: return { [util.inspect.custom]: () => `<a ${d.type} object>` };
  }
}

function oneLine(text) {
  return String(text).replace(/\s+/gu, ' ').slice(0, 80);
}

function show(value) {
  const text = util.inspect(value, { depth: 6, maxArrayLength: 30, breakLength: Infinity });
  return text.length > 300 ? text.slice(0, 300) + '...' : text;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

class Outcome {
  constructor(data, note) {
    this.raw = data;
    this.note = note;
    this.raised = data.raised || null;
    this.value = 'ok' in data ? decode(data.ok) : undefined;
  }

  describe() {
    if (this.raised) return `threw ${oneLine(this.raised.type)}(${show(this.raised.message)})`;
    return `returned ${show(this.value)}`;
  }

  expectValue(expected, what) {
    if (this.raised) {
      const stack = this.raised.stack ? `\n${quote(this.raised.stack)}` : '';
      throw new Failure(`${what}: expected ${show(expected)}, but it ${this.describe()}${stack}${this.note}`);
    }
    if (!same(this.raw.ok, encode(expected))) {
      throw new Failure(`${what}: expected ${show(expected)}, but it ${this.describe()}${this.note}`);
    }
  }

  expectThrows(typeName, what) {
    if (!this.raised) throw new Failure(`${what}: expected a ${typeName} to be thrown, but it ${this.describe()}${this.note}`);
    if (!this.raised.chain.includes(typeName)) {
      throw new Failure(`${what}: expected a ${typeName}, but it ${this.describe()}${this.note}`);
    }
  }
}

function runHarness(moduleFile, request, timeoutMs) {
  const modulePath = path.resolve(moduleFile);
  // confine.py enters the domain, closes every descriptor but stdio and the reply
  // pipe (fd 3), and execs node.
  // Imported rather than run as a script, so python loads its bytecode from
  // __pycache__ (the runtime compiles the runners) instead of compiling it each time.
  const argv = ['-I', '-S', '-c', CONFINE_MAIN, '--keep-fd', '3'];
  for (const p of hiddenPaths()) argv.push('--hide', p);
  argv.push(
    '--',
    process.execPath,
    '--no-warnings',
    '--experimental-permission',
    `--allow-fs-read=${HARNESS}`,
    `--allow-fs-read=${modulePath}`,
    '--max-old-space-size=192',
    '--stack-size=2000',
    HARNESS,
    modulePath,
  );
  return new Promise((resolve) => {
    const child = spawn('python3', argv, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH || '/usr/bin:/bin', LANG: process.env.LANG || 'C.UTF-8' },
    });
    let output = '';
    let reply = '';
    let timedOut = false;
    let settled = false;
    const keep = (chunk) => {
      if (output.length < OUTPUT_CAP) output += chunk.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdio[3].on('data', (chunk) => {
      if (reply.length < 4 << 20) reply += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ code, signal, output: output.slice(0, OUTPUT_CAP).trim(), reply, timedOut });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const output = e && e.code === 'ENOENT'
        ? 'python3 was not found: the node runner needs it to start your code confined (.gauntlet/runner/confine.py)'
        : String(e);
      resolve({ code: null, signal: null, output, reply: '', timedOut: false });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(request));
  });
}

async function request(moduleFile, req, timeoutMs) {
  if (timedOutTotalMs >= TIMEOUT_ALLOWANCE_MS) {
    throw new Failure(`not run: your code already timed out for ${timedOutTotalMs / 1000} s in earlier tests; fix the endless loop (or the slow part) first`);
  }
  const ran = await runHarness(moduleFile, req, timeoutMs);
  if (ran.timedOut) timedOutTotalMs += timeoutMs;
  const note = ran.output ? `\nyour code printed:\n${quote(ran.output)}` : '';
  if (ran.timedOut) throw new Failure(`timed out after ${timeoutMs / 1000} s: an endless loop?${note}`);
  let reply = null;
  try {
    reply = JSON.parse(ran.reply.split('\n')[0]);
  } catch {}
  if (!reply || typeof reply !== 'object') {
    const how = ran.signal ? `was killed by ${ran.signal}` : `exited with code ${ran.code}`;
    throw new Failure(`the process running your code ${how} before it answered${note}`);
  }
  if (reply.import_error) throw new Failure(`loading your module failed:\n${quote(reply.import_error)}${note}`);
  if (reply.missing) throw new Failure(`${path.basename(moduleFile)} does not export a function named ${req.name}: is it in module.exports?${note}`);
  reply.note = note;
  return reply;
}

/** Calls the exported function `name` of `moduleFile` with `args` in a fresh child. */
async function call(moduleFile, name, args, { timeoutMs = 2000 } = {}) {
  const reply = await request(moduleFile, { op: 'call', name, args }, timeoutMs);
  return new Outcome(reply.result, reply.note);
}

/** Calls `name` once per entry of argsList, all in one child; one Outcome each. */
async function callMany(moduleFile, name, argsList, { timeoutMs = 3000 } = {}) {
  const reply = await request(moduleFile, { op: 'calls', name, argsList }, timeoutMs);
  return reply.results.map((r) => new Outcome(r, reply.note));
}

module.exports = { call, callMany, Failure, show };
