// Shared jest settings for every package: TypeScript through @swc/jest (no type-check at
// test time; `turbo run lint` type-checks), real services only, and a reporter that writes
// this package's totals for the root summary line (`N passed, N failed`).
const path = require('node:path');

/** @param {string} dir the package directory (pass __dirname) */
module.exports = function jestConfig(dir, overrides = {}) {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
    transform: {
      '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
    },
    moduleFileExtensions: ['ts', 'js', 'json'],
    testTimeout: 60_000,
    maxWorkers: process.env.JEST_WORKERS ?? 2,
    reporters: ['default', path.join(__dirname, 'reporter.js')],
    ...overrides,
  };
};
