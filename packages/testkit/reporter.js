// Writes {package, passed, failed, skipped, suitesFailed} to $PM_TEST_RESULTS_DIR/<package>.json
// so that the root `npm test` can print one `N passed, N failed` line for the whole repo.
const fs = require('node:fs');
const path = require('node:path');

class ResultsFileReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }
  onRunComplete(_contexts, results) {
    const dir = process.env.PM_TEST_RESULTS_DIR;
    if (!dir) return;
    let name = path.basename(this.rootDir);
    try { name = require(path.join(this.rootDir, 'package.json')).name; } catch { /* keep basename */ }
    fs.mkdirSync(dir, { recursive: true });
    const out = {
      package: name,
      passed: results.numPassedTests,
      failed: results.numFailedTests + (results.numRuntimeErrorTestSuites || 0),
      skipped: results.numPendingTests + results.numTodoTests,
      suitesFailed: results.numFailedTestSuites,
    };
    fs.writeFileSync(path.join(dir, name.replace(/[@/]/g, '_') + '.json'), JSON.stringify(out) + '\n');
  }
}
module.exports = ResultsFileReporter;
