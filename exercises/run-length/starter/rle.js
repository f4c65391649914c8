'use strict';
// Run-length encoding, all or nothing: see the statement.

function encode(text) {
  // TODO: code points, counts over 9, the checks.
  let out = '';
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && text[j] === text[i]) j++;
    out += (j - i > 1 ? String(j - i) : '') + text[i];
    i = j;
  }
  return out;
}

function decode(code) {
  // TODO: counts over 9, the checks.
  let out = '';
  let count = '';
  for (const ch of code) {
    if (ch >= '0' && ch <= '9') {
      count += ch;
    } else {
      out += ch.repeat(count === '' ? 1 : Number(count));
      count = '';
    }
  }
  return out;
}

module.exports = { encode, decode };
