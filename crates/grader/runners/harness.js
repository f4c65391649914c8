'use strict';
// The untrusted half of the runner: loads the learner's module and runs one request.
//
// judge.js starts it as
//   python3 -I -S -c "import confine; …" --keep-fd 3 --hide <tests>... -- \
//     node --experimental-permission --allow-fs-read=<this file> --allow-fs-read=<module> \
//          harness.js <module>
// with the request as JSON on stdin, and reads one JSON line from fd 3. The learner's
// code runs in this process and could rewrite anything here, so the judge, not this
// file, decides whether a test passed. Two fences keep the learner's code in: the
// Landlock domain confine.py puts it in (no read of tests/, no write to the
// workspace, no signal to the test processes, no descriptor but stdio and fd 3), and
// Node's permission model inside it (no other file read, no file written, no process
// spawned, no worker, no native code).
const fs = require('node:fs');

const REPLY_FD = 3;
const modulePath = process.argv[2];

function encode(value, depth = 0) {
  // Exact types, so no custom object can pass for a plain value.
  if (depth > 50) return { t: 'other', type: 'nested too deep' };
  if (value === null) return { t: 'null' };
  if (value === undefined) return { t: 'undefined' };
  const type = typeof value;
  if (type === 'boolean' || type === 'string') return { t: type, v: value };
  if (type === 'number') return { t: 'number', v: Number.isFinite(value) ? value : String(value) };
  if (type === 'bigint') return { t: 'bigint', v: String(value) };
  if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
    return { t: 'array', v: Array.from(value, (x) => encode(x, depth + 1)) };
  }
  if (type === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      return { t: 'object', v: Object.keys(value).map((k) => [k, encode(value[k], depth + 1)]) };
    }
    if (value instanceof Map) {
      return { t: 'map', v: Array.from(value, ([k, v]) => [encode(k, depth + 1), encode(v, depth + 1)]) };
    }
  }
  let name = type;
  try {
    name = (value && value.constructor && value.constructor.name) || type;
  } catch {}
  return { t: 'other', type: String(name) };
}

function describeError(e) {
  let name = 'Error';
  let message = '';
  let stack = '';
  const chain = [];
  try {
    name = e && e.constructor ? String(e.constructor.name) : typeof e;
    message = e instanceof Error ? String(e.message) : String(e);
    stack = e instanceof Error && e.stack ? String(e.stack) : '';
    for (let p = e; p && typeof p === 'object'; p = Object.getPrototypeOf(p)) {
      if (p.constructor && p.constructor.name) chain.push(String(p.constructor.name));
      if (chain.length > 20) break;
    }
  } catch {}
  const lines = stack.split('\n').filter((l) => !l.includes('harness.js') && !l.includes('(node:'));
  return { type: name, chain, message: message.slice(0, 2000), stack: lines.slice(0, 8).join('\n') };
}

async function outcome(fn) {
  try {
    return { ok: encode(await fn()) };
  } catch (e) {
    return { raised: describeError(e) };
  }
}

function answer(obj) {
  fs.writeSync(REPLY_FD, JSON.stringify(obj) + '\n');
  fs.closeSync(REPLY_FD);
}

async function main(request) {
  let mod;
  try {
    mod = require(modulePath);
  } catch (e) {
    const d = describeError(e);
    return { import_error: `${d.type}: ${d.message}\n${d.stack}` };
  }
  const fn = mod == null ? undefined : mod[request.name];
  if (typeof fn !== 'function') {
    return { missing: true };
  }
  if (request.op === 'call') return { result: await outcome(() => fn(...request.args)) };
  if (request.op === 'calls') {
    const results = [];
    for (const args of request.argsList) results.push(await outcome(() => fn(...args)));
    return { results };
  }
  return { import_error: `unknown request ${request.op}` };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  main(JSON.parse(input)).then(answer, (e) => answer({ import_error: String(e) }));
});
