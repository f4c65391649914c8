'use strict';
// ISBN-10 check and conversion to ISBN-13 (reference solution).

function checkedCharacters(text) {
  if (typeof text !== 'string') throw new TypeError('an ISBN must be a string');
  const chars = text.replace(/-/g, '');
  if (!/^[0-9]{9}[0-9X]$/.test(chars)) return null;
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    const value = chars[i] === 'X' ? 10 : chars.charCodeAt(i) - 48;
    sum += value * (10 - i);
  }
  return sum % 11 === 0 ? chars : null;
}

function isValidIsbn10(text) {
  return checkedCharacters(text) !== null;
}

function toIsbn13(text) {
  const chars = checkedCharacters(text);
  if (chars === null) throw new RangeError(`${JSON.stringify(text)} is not a valid ISBN-10`);
  const body = '978' + chars.slice(0, 9);
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (body.charCodeAt(i) - 48) * (i % 2 === 0 ? 1 : 3);
  return body + String((10 - (sum % 10)) % 10);
}

module.exports = { isValidIsbn10, toIsbn13 };
