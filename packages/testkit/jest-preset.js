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
    // How long a worker may take to end once told to (jest's default: 500 ms, then "A worker
    // process has failed to exit gracefully"). Measured 2026-11-27 (service-kit's suite, a
    // diagnostic --require in the workers): each worker's event loop was empty 1 ms after jest's
    // END message — no ref'd timer, no socket but stdio — yet the parent saw the process end
    // 350 ms to over 560 ms later (Node tearing down a test run's heap), so a loaded 2-core
    // machine printed the warning for every package. A worker that really hangs still gets
    // killed, 5 s in.
    workerGracefulExitTimeout: 5_000,
    reporters: ['default', path.join(__dirname, 'reporter.js')],
    ...overrides,
  };
};
