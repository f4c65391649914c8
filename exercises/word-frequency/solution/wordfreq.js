'use strict';
// The most frequent words of a text (reference solution).

function topWords(text, n) {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  if (!Number.isInteger(n) || n < 0) throw new RangeError('n must be an integer >= 0');
  const counts = new Map();
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}']+/gu)) {
    const word = match[0].replace(/^'+|'+$/g, '');
    if (word) counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n);
}

module.exports = { topWords };
