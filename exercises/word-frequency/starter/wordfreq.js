'use strict';
// The most frequent words of a text: see the statement.

function topWords(text, n) {
  // TODO: case, apostrophes, ties in alphabetical order, checks of text and n.
  const counts = new Map();
  for (const word of text.split(' ')) {
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

module.exports = { topWords };
