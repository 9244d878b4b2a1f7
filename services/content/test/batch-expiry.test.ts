import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { commonV1, contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, fields, startContent, type Harness } from './harness';

// BatchGetContent (order, parts, per-key not found, the key limit, the answer's byte budget),
// SetExpiry (set, clear, policy exemption, NOT_FOUND, event) and the retention policy RPCs.

const P = contentV1.ContentPart;
let h: Harness;
const tenant = randomUUID();
const other = randomUUID();
beforeAll(async () => {
  // A small CONTENT_MAX_BYTES so that one answer's byte budget is reached with small bodies.
  h = await startContent({ limits: { contentMaxBytes: 10_000, retention: { maxAgeDays: 90, maxTotalBytes: 0 } } });
});
afterAll(() => h.close());

const put = (tenantId: string, text: string, extra: Partial<contentV1.PutContentRequest> = {}) =>
  call(h.client, 'putContent', { tenantId, storageKey: '', contentText: text, contentHtml: `<p>${text}</p>`, headers: { Subject: text.slice(0, 20) }, rawSizeBytes: 0n, expires: undefined, ...extra }).then(
    (r) => r.content!.storageKey,
  );
const batch = (storageKeys: string[], parts: contentV1.ContentPart[] = [], tenantId: string = tenant) => call(h.client, 'batchGetContent', { tenantId, storageKeys, parts });
async function eventsOf<T>(type: { decode(b: Uint8Array): T }, name: string): Promise<T[]> {
  const { rows } = await h.pool.query<{ payload: Buffer }>(`select payload from outbox_events where event_type = $1 order by created`, [`penguinmails.content.v1.${name}`]);
  return rows.map((r) => type.decode(commonV1.EventEnvelope.decode(r.payload).payload));
}

describe('BatchGetContent', () => {
  test('answers every key in request order; missing, expired and other-tenant keys are not found there, not an error', async () => {
    const [k1, k2] = [await put(tenant, 'one'), await put(tenant, 'two')];
    const expired = await put(tenant, 'gone');
    await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [expired]);
    const foreign = await put(other, 'theirs');
    const missing = `${tenant}/nope/${randomUUID()}`;
    const res = await batch([k2, missing, foreign, k1, expired, k2]);
    expect(res.results.map((r) => [r.storageKey, r.found])).toEqual([
      [k2, true],
      [missing, false],
      [foreign, false],
      [k1, true],
      [expired, false],
      [k2, true],
    ]);
    expect(res.results[0]).toMatchObject({ contentText: 'two', contentHtml: '<p>two</p>', headers: { Subject: 'two' }, partsOmitted: false });
    expect(res.results[3].content).toMatchObject({ storageKey: k1, tenantId: tenant, hasText: true, hasHtml: true });
    expect(res.results[2]).toMatchObject({ content: undefined, contentText: undefined, headers: undefined });
  });

  test('returns only the parts asked for (metadata always)', async () => {
    const k = await put(tenant, 'parts');
    const [html] = (await batch([k], [P.CONTENT_PART_HTML])).results;
    expect(html).toMatchObject({ found: true, contentHtml: '<p>parts</p>', contentText: undefined, headers: undefined });
    expect(html.content?.hasText).toBe(true);
    const [th] = (await batch([k], [P.CONTENT_PART_TEXT, P.CONTENT_PART_HEADERS])).results;
    expect(th).toMatchObject({ contentText: 'parts', contentHtml: undefined, headers: { Subject: 'parts' } });
  });

  test('parts beyond CONTENT_MAX_BYTES in one answer are left out and marked, the first always comes', async () => {
    const big = await Promise.all([0, 1, 2].map((i) => put(tenant, String(i).repeat(4_000), { contentHtml: undefined, headers: undefined })));
    const res = await batch(big, [P.CONTENT_PART_TEXT]);
    expect(res.results.map((r) => [r.found, r.partsOmitted, r.contentText?.length])).toEqual([
      [true, false, 4_000],
      [true, false, 4_000],
      [true, true, undefined],
    ]);
    // Only the html (absent here) asked: nothing counts against the budget.
    expect((await batch(big, [P.CONTENT_PART_HTML])).results.every((r) => r.found && !r.partsOmitted)).toBe(true);
  });

  test('bad input is INVALID_ARGUMENT naming the field (no keys, over 100, a bad key, an unknown part) and writes nothing', async () => {
    const before = await h.counts();
    const k = await put(tenant, 'x');
    const afterPut = await h.counts();
    const cases: [Promise<unknown>, string[]][] = [
      [batch([]), ['storage_keys']],
      [batch(Array.from({ length: 101 }, () => k)), ['storage_keys']],
      [batch([k, '', 'x'.repeat(501)]), ['storage_keys[1]', 'storage_keys[2]']],
      [batch([k], [P.CONTENT_PART_UNSPECIFIED, 77 as contentV1.ContentPart]), ['parts[0]', 'parts[1]']],
      [batch([k], [], 'nope'), ['tenant_id']],
    ];
    for (const [p, want] of cases) {
      const s = await failure(p);
      expect(s.code).toBe(status.INVALID_ARGUMENT);
      expect(fields(s)).toEqual(want);
    }
    expect((await failure(batch(Array.from({ length: 101 }, () => k)))).fieldViolations[0].description).toMatch(/at most 100/);
    expect(await h.counts()).toEqual(afterPut);
    expect(afterPut.content).toBe(before.content + 1);
    expect((await batch(Array.from({ length: 100 }, () => k))).results).toHaveLength(100);
  });
});

describe('SetExpiry', () => {
  const setExpiry = (storageKey: string, expires?: Date, followPolicy = false, tenantId: string = tenant) =>
    call(h.client, 'setExpiry', { tenantId, storageKey, expires, followPolicy });

  test('sets and clears the expiry, exempting the object from the policy unless told to follow it; one event each', async () => {
    const k = await put(tenant, 'keep me');
    const before = (await eventsOf(contentV1.ContentExpirySet, 'ContentExpirySet')).length;
    const at = new Date(Date.now() + 3 * 86_400_000);
    const set = await setExpiry(k, at);
    expect(set.content?.expires?.getTime()).toBe(at.getTime());
    expect(set.policyExempt).toBe(true);
    expect((await call(h.client, 'getContent', { tenantId: tenant, storageKey: k })).content?.expires?.getTime()).toBe(at.getTime());
    expect((await call(h.client, 'getUsage', { tenantId: tenant })).expiring?.nextWeek).toBeGreaterThanOrEqual(1n);
    const cleared = await setExpiry(k);
    expect(cleared.content?.expires).toBeUndefined();
    expect(cleared.policyExempt).toBe(true);
    const follow = await setExpiry(k, undefined, true);
    expect(follow.policyExempt).toBe(false);
    const { rows } = await h.pool.query(`select policy_exempt, expires from content_objects where storage_key = $1`, [k]);
    expect(rows[0]).toEqual({ policy_exempt: false, expires: null });
    const evs = (await eventsOf(contentV1.ContentExpirySet, 'ContentExpirySet')).slice(before);
    expect(evs.map((e) => [e.storageKey, e.expires?.getTime(), e.policyExempt])).toEqual([
      [k, at.getTime(), true],
      [k, undefined, true],
      [k, undefined, false],
    ]);
  });

  test('another tenant, a missing or an expired key is NOT_FOUND and changes nothing; bad input names the field', async () => {
    const k = await put(tenant, 'mine');
    const expired = await put(tenant, 'old');
    await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [expired]);
    const before = await h.counts();
    for (const [key, t] of [
      [k, other],
      [`${tenant}/missing`, tenant],
      [expired, tenant],
    ])
      expect((await failure(setExpiry(key, undefined, false, t))).code).toBe(status.NOT_FOUND);
    const bad = await failure(setExpiry('', new Date(Date.now() - 1000), false, 'x'));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(bad)).toEqual(['expires', 'storage_key', 'tenant_id']);
    expect(await h.counts()).toEqual(before);
    const { rows } = await h.pool.query(`select policy_exempt, expires from content_objects where storage_key = $1`, [k]);
    expect(rows[0]).toEqual({ policy_exempt: false, expires: null });
  });
});

describe('retention policy RPCs', () => {
  test('a tenant without a policy gets the defaults; set, get, fall back per field; another tenant is unaffected; events', async () => {
    const t = randomUUID();
    const fresh = await call(h.client, 'getRetentionPolicy', { tenantId: t });
    expect(fresh).toEqual({ effective: { maxAgeDays: 90, maxTotalBytes: 0n }, defaults: { maxAgeDays: 90, maxTotalBytes: 0n }, tenantMaxAgeDays: undefined, tenantMaxTotalBytes: undefined });
    const set = await call(h.client, 'setRetentionPolicy', { tenantId: t, maxAgeDays: 7, maxTotalBytes: 5n * 1024n * 1024n });
    expect(set.effective).toEqual({ maxAgeDays: 7, maxTotalBytes: 5_242_880n });
    expect(await call(h.client, 'getRetentionPolicy', { tenantId: t })).toMatchObject({ tenantMaxAgeDays: 7, tenantMaxTotalBytes: 5_242_880n });
    // 0 is "no limit", absent is "the default".
    const partial = await call(h.client, 'setRetentionPolicy', { tenantId: t, maxAgeDays: 0 });
    expect(partial.effective).toEqual({ maxAgeDays: 0, maxTotalBytes: 0n });
    expect(await call(h.client, 'getRetentionPolicy', { tenantId: t })).toMatchObject({ tenantMaxAgeDays: 0, tenantMaxTotalBytes: undefined });
    expect((await call(h.client, 'getRetentionPolicy', { tenantId: randomUUID() })).tenantMaxAgeDays).toBeUndefined();
    const evs = (await eventsOf(contentV1.RetentionPolicyChanged, 'RetentionPolicyChanged')).slice(-2);
    expect(evs.map((e) => [e.maxAgeDays, e.maxTotalBytes])).toEqual([
      [7, 5_242_880n],
      [0, 0n],
    ]);
  });

  test('bad values are INVALID_ARGUMENT naming the field, and write nothing', async () => {
    const t = randomUUID();
    const before = await h.counts();
    const policies = async () => (await h.pool.query(`select count(*)::int as n from retention_policies`)).rows[0].n;
    const n = await policies();
    for (const [req, want] of [
      [{ tenantId: t, maxAgeDays: -1 }, ['max_age_days']],
      [{ tenantId: t, maxAgeDays: 36_501 }, ['max_age_days']],
      [{ tenantId: t, maxTotalBytes: 1000n }, ['max_total_bytes']],
      [{ tenantId: t, maxTotalBytes: -5n }, ['max_total_bytes']],
      [{ tenantId: 'x', maxAgeDays: 1 }, ['tenant_id']],
    ] as const) {
      const s = await failure(call(h.client, 'setRetentionPolicy', req as contentV1.SetRetentionPolicyRequest));
      expect(s.code).toBe(status.INVALID_ARGUMENT);
      expect(fields(s)).toEqual(want);
    }
    expect((await failure(call(h.client, 'getRetentionPolicy', { tenantId: '' }))).code).toBe(status.INVALID_ARGUMENT);
    expect(await h.counts()).toEqual(before);
    expect(await policies()).toBe(n);
  });
});
