// `buf breaking` of proto/ against the previous commit (or BUF_BREAKING_AGAINST, any git ref).
// Skips, saying why, when there is no such commit or it had no protos yet (first commit,
// shallow clone). Exit code 1 on a breaking change, with buf's list of them.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = new URL('..', import.meta.url).pathname;
const root = join(here, '../..');
const ref = process.env.BUF_BREAKING_AGAINST || 'HEAD~1';

const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
if (git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).status !== 0) {
  console.log(`buf breaking: skipped, ${ref} does not exist in this clone`);
  process.exit(0);
}
if (!git('ls-tree', '-d', ref, 'proto/penguinmails').stdout.trim()) {
  console.log(`buf breaking: skipped, ${ref} has no protos yet`);
  process.exit(0);
}
const buf = join(here, 'node_modules/.bin/buf');
try {
  execFileSync(buf, ['breaking', 'proto', '--against', `.git#ref=${ref},subdir=proto`], { cwd: root, stdio: 'inherit' });
  console.log(`buf breaking: no breaking change against ${ref}`);
} catch {
  console.error(`buf breaking: proto/ breaks the contract of ${ref}; add new fields/RPCs instead, or a new package version (v2)`);
  process.exit(1);
}
