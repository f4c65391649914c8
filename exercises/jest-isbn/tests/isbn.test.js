'use strict';
// Hidden tests for jest-isbn, run by jest (installed from the package's
// package-lock.json). Jest loads isbn.js into its own process, so these results are
// advisory: see exercises/README.md, "What running the learner's code in-process
// gives up".
const { isValidIsbn10, toIsbn13 } = require('../isbn.js');

describe('isValidIsbn10', () => {
  test.each([
    ['3-598-21508-8'],
    ['3598215088'],
    ['0-306-40615-2'],
    ['99921-58-10-7'],
  ])('accepts the valid ISBN %s', (text) => {
    expect(isValidIsbn10(text)).toBe(true);
  });

  test('accepts X as a check character worth 10', () => {
    expect(isValidIsbn10('3-598-21507-X')).toBe(true);
    expect(isValidIsbn10('080442957X')).toBe(true);
    expect(isValidIsbn10('0-9752298-0-X')).toBe(true);
  });

  test('ignores hyphens wherever they are', () => {
    expect(isValidIsbn10('-0-3-0-6-4-0-6-1-5-2-')).toBe(true);
    expect(isValidIsbn10('0306406152-')).toBe(true);
  });

  test('rejects a wrong check character', () => {
    expect(isValidIsbn10('3-598-21508-9')).toBe(false);
    expect(isValidIsbn10('3-598-21508-X')).toBe(false);
    expect(isValidIsbn10('0306406153')).toBe(false);
  });

  test('rejects an X anywhere but at the end, and a lower-case x', () => {
    expect(isValidIsbn10('3-598-2X507-9')).toBe(false);
    expect(isValidIsbn10('X598215088')).toBe(false);
    expect(isValidIsbn10('3-598-21507-x')).toBe(false);
  });

  test('rejects too few or too many characters', () => {
    expect(isValidIsbn10('')).toBe(false);
    expect(isValidIsbn10('---')).toBe(false);
    expect(isValidIsbn10('3-598-21507')).toBe(false);
    expect(isValidIsbn10('359821507XX')).toBe(false);
    expect(isValidIsbn10('3598215088 0')).toBe(false);
    expect(isValidIsbn10('03598215088')).toBe(false);
  });

  test('rejects characters other than digits, X and hyphens', () => {
    expect(isValidIsbn10('3 598 21508 8')).toBe(false);
    expect(isValidIsbn10('3-598-P1581-X')).toBe(false);
    expect(isValidIsbn10('３５９８２１５０８８')).toBe(false);
    expect(isValidIsbn10('3598215088\n')).toBe(false);
  });

  test('throws a TypeError for anything but a string', () => {
    expect(() => isValidIsbn10(3598215088)).toThrow(TypeError);
    expect(() => isValidIsbn10(null)).toThrow(TypeError);
    expect(() => isValidIsbn10(['3598215088'])).toThrow(TypeError);
  });
});

describe('toIsbn13', () => {
  test.each([
    ['3-598-21508-8', '9783598215087'],
    ['0-306-40615-2', '9780306406157'],
    ['0-14-044913-2', '9780140449136'],
    ['99921-58-10-7', '9789992158104'],
  ])('turns %s into %s', (text, expected) => {
    expect(toIsbn13(text)).toBe(expected);
  });

  test('drops the check character X and computes a new check digit', () => {
    expect(toIsbn13('080442957X')).toBe('9780804429573');
    expect(toIsbn13('3-598-21507-X')).toBe('9783598215070');
  });

  test('throws a RangeError for a string that is not a valid ISBN-10', () => {
    for (const text of ['3-598-21508-9', '', '3-598-21507', 'ISBN 3598215088']) {
      expect(() => toIsbn13(text)).toThrow(RangeError);
    }
  });

  test('throws a TypeError for anything but a string', () => {
    expect(() => toIsbn13(306406152)).toThrow(TypeError);
    expect(() => toIsbn13(undefined)).toThrow(TypeError);
  });
});
