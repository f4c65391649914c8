'use strict';
// Hidden tests for word-frequency, run by `node --test`. The learner's code runs only
// in sandboxed children started by judge.js; see there why results cannot be forged.
const test = require('node:test');
const { call, callMany, Failure } = require('../.gauntlet/runner/judge.js');

const MODULE = 'wordfreq.js';

async function expectTop(text, n, expected) {
  (await call(MODULE, 'topWords', [text, n])).expectValue(expected, `topWords(${JSON.stringify(text)}, ${n})`);
}

test('counts words and puts the most frequent first', async () => {
  await expectTop('the cat and the hat and the bat', 2, [['the', 3], ['and', 2]]);
});

test('ignores case and returns words in lower case', async () => {
  await expectTop('Go, go, GO! gO', 5, [['go', 4]]);
});

test('splits on punctuation, hyphens and any whitespace', async () => {
  await expectTop('well-known\twords;\nwords, (known)... well', 3, [['known', 2], ['well', 2], ['words', 2]]);
});

test('breaks ties in alphabetical order', async () => {
  await expectTop('pear apple fig apple pear fig kiwi', 4, [['apple', 2], ['fig', 2], ['pear', 2], ['kiwi', 1]]);
});

test("keeps apostrophes inside words and trims them at the ends", async () => {
  await expectTop("don't 'quote' DON'T ' it's quote''", 3, [["don't", 2], ['quote', 2], ["it's", 1]]);
});

test('counts letters of any alphabet and digits as word characters', async () => {
  await expectTop('Café café STRASSE straße 東京 東京 東京 route66 🙂 🙂', 4, [
    ['東京', 3], ['café', 2], ['route66', 1], ['strasse', 1],
  ]);
});

test('returns every word when there are fewer than n, and [] for n = 0', async () => {
  await expectTop('b a', 10, [['a', 1], ['b', 1]]);
  await expectTop('b a', 0, []);
});

test('returns [] for a text with no words', async () => {
  await expectTop('', 3, []);
  await expectTop("  ... -- ' !? ", 3, []);
});

test('throws a TypeError when text is not a string', async () => {
  const outcomes = await callMany(MODULE, 'topWords', [[null, 1], [42, 1], [['a'], 1]]);
  const args = ['null', '42', '["a"]'];
  outcomes.forEach((o, i) => o.expectThrows('TypeError', `topWords(${args[i]}, 1)`));
});

test('throws a RangeError when n is negative or not an integer', async () => {
  const outcomes = await callMany(MODULE, 'topWords', [['a b', -1], ['a b', 1.5], ['a b', '3'], ['a b', NaN]]);
  const ns = ['-1', '1.5', '"3"', 'NaN'];
  outcomes.forEach((o, i) => o.expectThrows('RangeError', `topWords("a b", ${ns[i]})`));
});

test('handles a text of 200000 words within the time limit', async () => {
  const words = [];
  for (let i = 0; i < 200000; i++) words.push(`w${i % 1000}`);
  words.push('w7');
  const outcome = await call(MODULE, 'topWords', [words.join(' '), 2], { timeoutMs: 6000 });
  outcome.expectValue([['w7', 201], ['w0', 200]], 'topWords(<200000 words>, 2)');
});
