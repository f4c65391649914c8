'use strict';
// Hidden tests of {{id}}, run by `node --test`. The learner's code runs only in
// sandboxed children started by the judge (.gauntlet/runner/judge.js, which the node
// runtime provides in every workspace): each call returns plain data that is compared
// here, so the learner's code cannot forge a result.
const test = require('node:test');
const { call } = require('../.gauntlet/runner/judge.js');

const MODULE = '{{module}}.js';

async function expectCount(text, expected) {
  (await call(MODULE, 'countWords', [text])).expectValue(expected, `countWords(${JSON.stringify(text)})`);
}

test('counts two words', async () => {
  await expectCount('hello world', 2);
});

test('counts a single word', async () => {
  await expectCount('hello', 1);
});

test('finds no word in an empty text', async () => {
  await expectCount('', 0);
});

test('ignores runs of spaces at the ends and between words', async () => {
  await expectCount('  one   two  ', 2);
});

test('treats tabs and newlines as separators', async () => {
  await expectCount('one\ttwo\nthree', 3);
});

test('throws a TypeError for anything but a string', async () => {
  (await call(MODULE, 'countWords', [42])).expectThrows('TypeError', 'countWords(42)');
});
