'use strict';
/*
 * {{title}}
 *
 * Write countWords(text): the number of words in `text`, a string. A word is a run of
 * characters that are not whitespace (spaces, tabs, newlines), so "  a  b " has two
 * words and "" or "   " has none. Anything that is not a string throws a TypeError.
 *
 * Examples:
 *   countWords("hello world")     // 2
 *   countWords("  one   two  ")   // 2
 *   countWords("")                // 0
 *
 * Try it:  node -e 'console.log(require("./{{module}}").countWords("a b"))'
 */

function countWords(text) {
  // TODO: this counts the gaps between single spaces, not the words.
  return text.split(' ').length;
}

module.exports = { countWords };
