'use strict';
/*
 * The most frequent words of a text.
 *
 * Write topWords(text, n): the n most frequent words of `text`, as an array of
 * [word, count] pairs, most frequent first.
 *
 * - Words are case-insensitive and are returned in lower case: "The" and "the" are
 *   the same word.
 * - A word is a run of letters (any alphabet: "café", "straße" and "東京" are words),
 *   digits and apostrophes, with the apostrophes at either end trimmed off:
 *   "don't" is one word, "'quoted'" is "quoted", and a lone "'" is no word at all.
 *   Everything else (spaces, punctuation, hyphens, emoji) separates words.
 * - Words with the same count are in alphabetical order (compare the lower-case words
 *   as plain strings, with < and >).
 * - If there are fewer than n different words, return them all. n is an integer >= 0;
 *   anything else (-1, 1.5, "3") throws a RangeError.
 * - `text` that is not a string throws a TypeError.
 *
 * Examples:
 *   topWords("the cat and the hat", 2)   // [["the", 2], ["and", 1]]
 *   topWords("Go, go, GO!", 5)           // [["go", 3]]
 *   topWords("", 3)                      // []
 *
 * Hint: /[\p{L}\p{N}']+/gu matches runs of letters, digits and apostrophes, and a Map
 * keeps counts.
 *
 * Try it:  node -e 'console.log(require("./wordfreq").topWords("a b a", 2))'
 */

function topWords(text, n) {
  // TODO: case, apostrophes, ties in alphabetical order, checks of text and n.
  const counts = new Map();
  for (const word of text.split(' ')) {
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

module.exports = { topWords };
