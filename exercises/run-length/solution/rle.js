'use strict';
// Run-length encoding (reference solution).

function encode(text) {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  if (/[0-9]/.test(text)) throw new RangeError('text must not contain digits');
  let out = '';
  let run = null;
  let length = 0;
  for (const ch of text) {
    if (ch === run) {
      length += 1;
      continue;
    }
    if (run !== null) out += (length > 1 ? String(length) : '') + run;
    run = ch;
    length = 1;
  }
  if (run !== null) out += (length > 1 ? String(length) : '') + run;
  return out;
}

function decode(code) {
  if (typeof code !== 'string') throw new TypeError('code must be a string');
  let out = '';
  let count = '';
  let previous = null;
  for (const ch of code) {
    if (ch >= '0' && ch <= '9') {
      if (count === '' && ch === '0') throw new RangeError('a count cannot start with 0');
      count += ch;
      continue;
    }
    if (count === '1') throw new RangeError('a run of 1 is written without a count');
    if (ch === previous) throw new RangeError(`two runs of ${JSON.stringify(ch)} in a row`);
    out += ch.repeat(count === '' ? 1 : Number(count));
    previous = ch;
    count = '';
  }
  if (count !== '') throw new RangeError('a count at the end has no character');
  return out;
}

module.exports = { encode, decode };
