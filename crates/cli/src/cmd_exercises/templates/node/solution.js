'use strict';
// The reference solution of {{id}}: `gauntlet exercises check` grades it (it must score 100).

function countWords(text) {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  const words = text.trim().split(/\s+/);
  return words[0] === '' ? 0 : words.length;
}

module.exports = { countWords };
