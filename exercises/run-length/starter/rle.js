'use strict';
/*
 * Run-length encoding, all or nothing: this exercise scores 100 only when every test
 * passes, like a codec has to.
 *
 * Write two functions.
 *
 * encode(text) -> string
 *   Replaces each run of the same character by its length followed by the character,
 *   leaving the length out when it is 1:
 *     encode("AAABCCDDDD") === "3AB2C4D"
 *     encode("") === ""
 *   - Characters are Unicode code points, not UTF-16 units: encode("🙂🙂") === "2🙂".
 *   - Runs can be longer than 9: encode("x".repeat(12)) === "12x".
 *   - A digit in `text` would make the code ambiguous, so it throws a RangeError.
 *   - `text` that is not a string throws a TypeError.
 *
 * decode(code) -> string
 *   The reverse: decode("3AB2C4D") === "AAABCCDDDD", and decode(encode(s)) === s for
 *   every string s without digits.
 *   - It throws a RangeError for code that encode could not have produced: a count
 *     with no character after it ("3A4"), a count of 0 or 1 or one with a leading zero
 *     ("0A", "1A", "02A"), or two runs of the same character in a row ("2A3A", "AA").
 *   - `code` that is not a string throws a TypeError.
 *
 * Try it:  node -e 'const r = require("./rle"); console.log(r.encode("AAB"))'
 */

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
