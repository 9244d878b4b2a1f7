// The demo (`npm run demo`) against a fresh platform: every figure analytics reports for the
// campaign, its steps and its mailboxes equals what the demo simulated.
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { createPlatform, type PenguinMails } from '../src';
import { runDemo } from '../src/demo';

let platform: Platform;
let pm: PenguinMails;
beforeAll(async () => {
  platform = await startPlatform();
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
});
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

test('npm run demo: all figures of analytics match the simulation (seed 7)', async () => {
  const lines: string[] = [];
  const result = await runDemo(pm, { seed: 7, leads: 60, print: (l) => lines.push(l) });
  expect(result.differences).toEqual([]);
  expect(result.ok).toBe(true);
  expect(result.figures).toBe(7 * 11);
  expect(result.expected.campaign.sent).toBeGreaterThan(100);
  expect(result.expected.campaign.replied).toBeGreaterThan(0);
  expect(result.expected.campaign.hardBounced).toBeGreaterThan(0);
  expect(result.expected.campaign.softBounced).toBeGreaterThan(0);
  expect(lines.at(-1)).toBe('demo: all 77 figures match');
}, 240_000);
