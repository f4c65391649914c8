'use strict';
// Hidden tests for run-length, run by `node --test` with the JUnit reporter. The
// learner's code runs only in sandboxed children started by judge.js; see there why
// results cannot be forged.
const test = require('node:test');
const { callMany } = require('../.gauntlet/runner/judge.js');

const MODULE = 'rle.js';

async function table(name, cases) {
  const outcomes = await callMany(MODULE, name, cases.map(([arg]) => [arg]));
  cases.forEach(([arg, expected], i) => outcomes[i].expectValue(expected, `${name}(${JSON.stringify(arg)})`));
}

async function throwsFor(name, args, errorType) {
  const outcomes = await callMany(MODULE, name, args.map((a) => [a]));
  args.forEach((a, i) => outcomes[i].expectThrows(errorType, `${name}(${JSON.stringify(a) ?? String(a)})`));
}

test('encode writes runs as count and character', async () => {
  await table('encode', [['AAABCCDDDD', '3AB2C4D'], ['AB', 'AB'], ['WWWWWWWWWWWWBWWWWWWWWWWWWBBB', '12WB12W3B']]);
});

test('encode leaves the count out for runs of one', async () => {
  await table('encode', [['abc', 'abc'], ['aba', 'aba'], ['a', 'a']]);
});

test('encode returns an empty string for an empty text', async () => {
  await table('encode', [['', '']]);
});

test('encode counts runs longer than nine', async () => {
  await table('encode', [['x'.repeat(12), '12x'], ['y'.repeat(100) + 'z', '100yz'], [' '.repeat(10), '10 ']]);
});

test('encode treats characters outside the BMP as one character', async () => {
  await table('encode', [['🙂🙂', '2🙂'], ['a🙂🙂🙂b', 'a3🙂b'], ['𝄞', '𝄞']]);
});

test('encode is case-sensitive and keeps spaces and punctuation', async () => {
  await table('encode', [['aaAA', '2a2A'], ['  !!  ', '2 2!2 ']]);
});

test('encode throws a RangeError for a text with digits', async () => {
  await throwsFor('encode', ['a1', '2024', 'x0y'], 'RangeError');
});

test('encode and decode throw a TypeError for non-strings', async () => {
  await throwsFor('encode', [null, 42, ['a']], 'TypeError');
  await throwsFor('decode', [undefined, 3, { a: 1 }], 'TypeError');
});

test('decode expands counts and characters', async () => {
  await table('decode', [['3AB2C4D', 'AAABCCDDDD'], ['12WB12W3B', 'WWWWWWWWWWWWBWWWWWWWWWWWWBBB'], ['', ''], ['2🙂a', '🙂🙂a']]);
});

test('decode throws a RangeError for code encode cannot produce', async () => {
  await throwsFor('decode', ['3A4', '7', '0A', '1A', '02A', '2A3A', 'AA', 'A2A'], 'RangeError');
});

test('decode(encode(text)) gives back every text', async () => {
  const texts = ['', 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', 'mississippi', 'Zzzz... zz', '🙂🙂🙂x🙂', 'é'.repeat(300)];
  const encoded = await callMany(MODULE, 'encode', texts.map((t) => [t]));
  encoded.forEach((o, i) => {
    if (o.raised || typeof o.value !== 'string') o.expectValue('a string', `encode(${JSON.stringify(texts[i])})`);
  });
  const decoded = await callMany(MODULE, 'decode', encoded.map((o) => [o.value]));
  texts.forEach((t, i) => decoded[i].expectValue(t, `decode(${JSON.stringify(encoded[i].value)})`));
});
