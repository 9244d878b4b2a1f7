// Hostile input the content service once answered with INTERNAL or died on, and tenant-bound tokens.
import { randomUUID } from 'node:crypto';
import { credentials, status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { bearerTokenInterceptor, call } from '@penguinmails/service-kit';
import { healthCheck } from '@penguinmails/testkit';
import { failure, fields, startContent, type Harness } from './harness';

let h: Harness;
const tenantA = randomUUID();
beforeAll(async () => {
  h = await startContent({ authTokens: ['platform-token', `${tenantA}:tenant-a-token`], token: 'platform-token' });
});
afterAll(() => h.close());

const clientWith = (token: string) => new contentV1.ContentServiceClient(h.address, credentials.createInsecure(), { interceptors: [bearerTokenInterceptor(token)] });

it('a storage key with NUL, an astral tenant id cut anywhere: INVALID_ARGUMENT naming the field, still SERVING', async () => {
  const before = await h.counts();
  const nul = await failure(call(h.client, 'getContent', contentV1.GetContentRequest.fromPartial({ tenantId: tenantA, storageKey: '\u0000\u0001' })));
  expect([nul.code, fields(nul)]).toEqual([status.INVALID_ARGUMENT, ['storage_key']]);
  for (let n = 1; n < 6; n++) {
    const s = await failure(call(h.client, 'deleteContent', contentV1.DeleteContentRequest.fromPartial({ tenantId: '😀'.repeat(40).slice(n), storageKey: 'k' })));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
  }
  const headers = await failure(
    call(h.client, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: tenantA, contentText: 'x', headers: { 'X-\u0000': 'v' } })),
  );
  expect([headers.code, fields(headers)]).toEqual([status.INVALID_ARGUMENT, ['headers']]);
  expect(await h.counts()).toEqual(before);
  expect(await healthCheck(h.address)).toBe('SERVING');
});

it('a tenant-bound token stores and reads for its tenant only: PERMISSION_DENIED and nothing written for another', async () => {
  const a = clientWith('tenant-a-token');
  const put = await call(a, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: tenantA, contentText: 'mine' }));
  const before = await h.counts();
  const other = randomUUID();
  for (const p of [
    () => call(a, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: other, contentText: 'theirs' })),
    () => call(a, 'getContent', contentV1.GetContentRequest.fromPartial({ tenantId: other, storageKey: put.content!.storageKey })),
    () => call(a, 'deleteContent', contentV1.DeleteContentRequest.fromPartial({ tenantId: other, storageKey: put.content!.storageKey })),
    () => call(a, 'batchGetContent', contentV1.BatchGetContentRequest.fromPartial({ tenantId: other, storageKeys: [put.content!.storageKey] })),
    () => call(a, 'setExpiry', contentV1.SetExpiryRequest.fromPartial({ tenantId: other, storageKey: put.content!.storageKey })),
    () => call(a, 'getUsage', contentV1.GetUsageRequest.fromPartial({ tenantId: other })),
    () => call(a, 'setRetentionPolicy', contentV1.SetRetentionPolicyRequest.fromPartial({ tenantId: other, maxAgeDays: 1 })),
    () => call(a, 'getRetentionPolicy', contentV1.GetRetentionPolicyRequest.fromPartial({ tenantId: other })),
  ]) {
    expect((await failure(p())).code).toBe(status.PERMISSION_DENIED);
  }
  expect(await h.counts()).toEqual(before);
  a.close();
});
