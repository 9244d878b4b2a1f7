import path from 'node:path';
import { undocumentedSettings } from '@penguinmails/testkit';
import { settingsShape } from '../src/config';

// Every setting the content service reads is described in its README's "Settings" (or, for the
// settings every service shares, in the service kit's README).
test('every setting is documented', () => {
  expect(Object.keys(settingsShape).length).toBeGreaterThan(10);
  expect(undocumentedSettings(settingsShape, [path.join(__dirname, '..', 'README.md')])).toEqual([]);
});
