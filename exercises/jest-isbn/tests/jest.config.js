'use strict';
// Jest configuration for the hidden tests, passed with --config: the workspace has
// no package.json, and a submission cannot write tests/. rootDir is the workspace.
const path = require('node:path');

module.exports = {
  rootDir: path.join(__dirname, '..'),
  roots: ['<rootDir>/tests'],
  testMatch: ['<rootDir>/tests/**/*.test.js'],
  testEnvironment: 'node',
  // Plain CommonJS: no Babel, which would only cost start-up time.
  transform: {},
  watchman: false,
  cacheDirectory: '/tmp/jest',
  reporters: [
    // The readable log for the learner (and the idle watchdog), on stderr.
    'default',
    // JUnit on the results channel (fd 3) for the grader. A test file that fails to
    // load (a syntax error in isbn.js) is reported as a failing test case, not lost.
    [
      'jest-junit',
      {
        outputDirectory: '/dev/fd',
        outputName: '3',
        suiteName: 'jest-isbn',
        suiteNameTemplate: '{filepath}',
        reportTestSuiteErrors: true,
      },
    ],
  ],
};
