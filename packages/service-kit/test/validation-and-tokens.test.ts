import { InvalidArgumentError, PageTokens, Validator, decodeKeyCursor, fitPage } from '../src';

test('Validator collects every violation with the caller\'s field path', () => {
  const v = new Validator();
  v.uuid('tenant_id', 'not-a-uuid');
  v.email('items[2].email', 'a'.repeat(250) + '@x.io');
  v.email('to_email', 'nope');
  v.string('subject', 's'.repeat(501), { max: 500 });
  v.oneOf('direction', 'sideways', ['inbound', 'outbound'] as const);
  v.pageSize('page.page_size', 501, { default: 50, max: 500 });
  v.uuid('campaign_id', '');
  expect(() => v.done()).toThrow(InvalidArgumentError);
  expect(v.violations.map((x) => [x.field, x.reason])).toEqual([
    ['tenant_id', 'NOT_A_UUID'],
    ['items[2].email', 'TOO_LONG'],
    ['to_email', 'NOT_AN_EMAIL'],
    ['subject', 'TOO_LONG'],
    ['direction', 'UNKNOWN_VALUE'],
    ['page.page_size', 'OUT_OF_RANGE'],
    ['campaign_id', 'REQUIRED'],
  ]);
});

test('Validator accepts good values and normalises them', () => {
  const v = new Validator();
  expect(v.uuid('id', '3F1C2B0E-8D4A-4C1E-9B7A-2A6F0C5D9E11')).toBe('3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11');
  expect(v.email('e', ' Ann@Example.COM ')).toBe('ann@example.com');
  expect(v.pageSize('p', 0, { default: 50, max: 500 })).toBe(50);
  expect(v.enumValue('t', 2, { 0: 'UNSPECIFIED', 1: 'A', 2: 'B', [-1]: 'UNRECOGNIZED' })).toBe(2);
  v.done();
  expect(v.ok).toBe(true);
});

test('enumValue rejects UNSPECIFIED and UNRECOGNIZED', () => {
  const names: Record<number, string> = { 0: 'X_UNSPECIFIED', 1: 'X_A', [-1]: 'UNRECOGNIZED' };
  const v = new Validator();
  v.enumValue('a', 0, names);
  v.enumValue('b', -1, names);
  v.enumValue('c', 7, names);
  expect(v.violations.map((x) => [x.field, x.reason])).toEqual([
    ['a', 'REQUIRED'],
    ['b', 'UNKNOWN_VALUE'],
    ['c', 'UNKNOWN_VALUE'],
  ]);
});

test('PageTokens round-trip and refuse tampering, other bindings and garbage', () => {
  const t = new PageTokens('0123456789abcdef0123');
  const token = t.encode({ created: '2026-01-01T00:00:00Z', id: 'x' }, 'tenant-a|mailbox=1');
  expect(t.decode(token, 'tenant-a|mailbox=1')).toEqual({ created: '2026-01-01T00:00:00Z', id: 'x' });
  expect(t.decode('', 'tenant-a')).toBeUndefined();
  const [body, mac] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ created: '2030-01-01', id: 'x' })).toString('base64url') + '.' + mac;
  for (const bad of [forged, `${body}.${mac.slice(1)}x`, 'garbage', token + 'x']) {
    expect(() => t.decode(bad, 'tenant-a|mailbox=1')).toThrow(InvalidArgumentError);
  }
  expect(() => t.decode(token, 'tenant-b|mailbox=1')).toThrow(/page.page_token/);
  expect(() => new PageTokens('another-secret-000000').decode(token, 'tenant-a|mailbox=1')).toThrow(InvalidArgumentError);
});

test('decodeKeyCursor: a text-keyed cursor back, none for no token, INVALID_ARGUMENT for another shape or binding', () => {
  const t = new PageTokens('0123456789abcdef0123');
  const token = t.encode({ q: 'send', g: '' }, 'list|tenant-a');
  expect(decodeKeyCursor(t, token, 'list|tenant-a', ['q', 'g'])).toEqual({ q: 'send', g: '' });
  expect(decodeKeyCursor(t, '', 'list|tenant-a', ['q', 'g'])).toBeUndefined();
  // A genuine token of another shape (a key missing, a number, not an object): refused, naming the field.
  for (const other of [{ q: 'send' }, { q: 'send', g: 7 }, 'send', null]) {
    expect(() => decodeKeyCursor(t, t.encode(other, 'list|tenant-a'), 'list|tenant-a', ['q', 'g'])).toThrow(/page.page_token is not a page token of this list/);
  }
  expect(() => decodeKeyCursor(t, token, 'list|tenant-b', ['q', 'g'])).toThrow(InvalidArgumentError);
});

describe('fitPage (a list page within a byte budget)', () => {
  const rows = [10, 20, 30, 40, 50].map((bytes, i) => ({ id: `r${i}`, bytes }));
  const budget = (maxBytes: number) => ({ maxBytes, bytesOf: (r: { bytes: number }) => r.bytes });

  it('cuts at page_size when the rows fit, and says a next page exists only when more were fetched', () => {
    expect(fitPage(rows, 3)).toEqual({ rows: rows.slice(0, 3), last: rows[2] });
    expect(fitPage(rows, 5)).toEqual({ rows, last: undefined });
    expect(fitPage(rows, 3, budget(1000))).toEqual({ rows: rows.slice(0, 3), last: rows[2] });
  });

  it('cuts where the running total passes the budget, and the next page starts after the last row kept', () => {
    expect(fitPage(rows, 5, budget(60))).toEqual({ rows: rows.slice(0, 3), last: rows[2] }); // 10 + 20 + 30
    expect(fitPage(rows, 5, budget(59))).toEqual({ rows: rows.slice(0, 2), last: rows[1] });
  });

  it('always keeps one row, even one larger than the budget', () => {
    expect(fitPage(rows, 5, budget(1))).toEqual({ rows: rows.slice(0, 1), last: rows[0] });
    expect(fitPage([rows[0]], 5, budget(1))).toEqual({ rows: [rows[0]], last: undefined });
    expect(fitPage([], 5, budget(1))).toEqual({ rows: [], last: undefined });
  });
});
