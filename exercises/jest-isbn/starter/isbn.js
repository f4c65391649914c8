'use strict';
// Check ISBN-10s and turn them into ISBN-13s: see the statement.

function isValidIsbn10(text) {
  // TODO: the check character X.
  const digits = text.replace(/-/g, '');
  if (!/^[0-9]{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += Number(digits[i]) * (10 - i);
  return sum % 11 === 0;
}

function toIsbn13(text) {
  // TODO: the check digit is not right yet, and an invalid ISBN-10 must throw.
  const body = '978' + text.replace(/-/g, '').slice(0, 9);
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 === 0 ? 1 : 3);
  return body + String(sum % 10);
}

module.exports = { isValidIsbn10, toIsbn13 };
