// deploy/validate.sh (docker-compose.yml, deploy/k8s, deploy/overlays/production, the Dockerfile)
// as part of `npm test`: a manifest change that breaks a check fails CI, not a deploy. The
// validator installs its checker packages into a temporary folder on first use (npm registry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('deploy/validate.sh passes on the committed manifests', { timeout: 390_000 }, () => {
  // 380 s: two bounded install attempts of 150 s (deploy/validate.sh) and the checks.
  const r = spawnSync('bash', [path.join(root, 'deploy/validate.sh')], { cwd: root, encoding: 'utf8', timeout: 380_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `deploy/validate.sh exited ${r.status}:\n${out.slice(-4000)}`);
  const summary = out.match(/(\d+) checks passed/);
  assert.ok(summary && Number(summary[1]) > 100, `no "N checks passed" summary in:\n${out.slice(-2000)}`);
  assert.doesNotMatch(out, /\bFAIL\b|✗/);
});
