// A node:test reporter that writes this package's totals in the format of
// packages/testkit/reporter.js, so `npm test` counts the launcher's own tests too.
import fs from 'node:fs';
import path from 'node:path';

export default async function* resultsReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    // Only leaf tests count (suites report too, with details.type === 'suite').
    if (event.type === 'test:pass' && event.data.details?.type !== 'suite') {
      if (event.data.skip || event.data.todo) skipped++;
      else passed++;
    } else if (event.type === 'test:fail' && event.data.details?.type !== 'suite') {
      failed++;
    }
  }
  const dir = process.env.PM_TEST_RESULTS_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, '_penguinmails_cli.json'),
      JSON.stringify({ package: '@penguinmails/cli', passed, failed, skipped, suitesFailed: 0 }) + '\n',
    );
  }
  yield '';
}
