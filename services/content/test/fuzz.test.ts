import { randomUUID } from 'node:crypto';
import type { ServiceError } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { ServiceFuzzer, fuzzOrder, fuzzSettings, isBadCode, loadDescriptorRoot, pgDigest, type ServiceSpec } from '@penguinmails/testkit';
import { startContent, type Harness } from './harness';

// Hostile input for every RPC of ContentService, generated from the descriptors (see
// packages/testkit/src/fuzz.ts and services/metadata/test/fuzz.test.ts for the invariants).

// The fuzz engine drives unary calls only (loadServiceSpec refuses streaming methods), so the
// spec is built here from the descriptor WITHOUT the streaming RPCs, named explicitly:
// UploadAttachment (client streaming) and DownloadAttachment (server streaming) get their own
// hostile-input tests in test/attachment-streams.test.ts. A new unary RPC is still fuzzed
// automatically; a new streaming one fails the first test below until it is listed here.
const STREAMING = ['UploadAttachment', 'DownloadAttachment'];
const SERVICE = 'penguinmails.content.v1.ContentService';
const root = loadDescriptorRoot();
const descriptorMethods = root.lookupService(SERVICE).methodsArray;
const spec: ServiceSpec = {
  service: SERVICE,
  root,
  methods: descriptorMethods
    .filter((m) => !STREAMING.includes(m.name))
    .map((m) => ({
      name: m.name,
      path: `/${SERVICE}/${m.name}`,
      requestType: root.lookupType(m.resolvedRequestType?.fullName ?? m.requestType),
      responseType: root.lookupType(m.resolvedResponseType?.fullName ?? m.responseType),
    })),
};
const settings = fuzzSettings({ runs: 60 });
const order = fuzzOrder(spec);

let h: Harness;
let fuzz: ServiceFuzzer;

beforeAll(async () => {
  h = await startContent();
  const tenants = [randomUUID(), randomUUID()];
  const keys: string[] = [];
  const deletable: string[] = [];
  const attachments: string[] = [];
  const emailIds: string[] = [];
  const notificationIds: string[] = [];
  const users = [randomUUID(), randomUUID()];
  for (const tenantId of tenants) {
    const put = await call(h.client, 'putContent', { tenantId, storageKey: '', contentText: 'Hi', contentHtml: '<p>Hi</p>', headers: { Subject: 'x' }, rawSizeBytes: 0n });
    keys.push(put.content!.storageKey);
    // A content of its own for DeleteContent's pool: the pooled parents (and the attachments the
    // fuzzed AddAttachment calls put on them) stay, so the read-back test reads them.
    // Several for the first tenant, the one plausible requests name: one delete each.
    for (let i = 0; i < (tenantId === tenants[0] ? 12 : 1); i++) {
      const doomed = await call(h.client, 'putContent', { tenantId, storageKey: '', contentText: 'Bye', contentHtml: '', headers: {}, rawSizeBytes: 0n });
      deletable.push(doomed.content!.storageKey);
    }
    const att = await call(h.client, 'addAttachment', {
      tenantId,
      parentStorageKey: put.content!.storageKey,
      filename: 'report.pdf',
      mimeType: 'application/pdf',
      content: Buffer.from('%PDF-1.7 tiny'),
      storageDisposition: 0,
      attachmentId: '',
    });
    attachments.push(att.attachment!.id);
    const email = await call(h.client, 'createTransactionalEmail', {
      tenantId, transactionalEmailId: '', recipientEmail: 'ada@example.com', recipientUserId: '', kind: 'password_reset', subject: 'Reset', contentText: 'click', bodyExpires: undefined,
    });
    emailIds.push(email.transactionalEmail!.id);
    const n = await call(h.client, 'createNotification', { tenantId, userId: users[0], kind: 'campaign_finished', title: 'Done', body: 'It finished', expires: undefined });
    notificationIds.push(n.notification!.id);
  }
  fuzz = new ServiceFuzzer(spec, {
    address: h.address,
    settings,
    digest: () => pgDigest(h.pool),
    pools: {
      tenant_id: [tenants[0], tenants[0], tenants[1]],
      storage_key: [...keys, `${tenants[0]}/2025/01/${randomUUID()}`],
      storage_keys: [...keys, `${tenants[0]}/2025/01/${randomUUID()}`],
      parent_storage_key: keys,
      attachment_id: attachments,
      mime_type: ['application/pdf', 'text/plain', 'image/png'],
      filename: ['report.pdf', 'a.txt'],
      transactional_email_id: emailIds,
      notification_id: notificationIds,
      subject: ['Reset your password', 'Your invoice'],
      recipient_user_id: [...users, ''],
      title: ['Done'],
      body: ['It finished'],
      content_text: ['Hi', 'Hello again'],
      user_id: users,
      recipient_email: ['ada@example.com', 'bob@example.com'],
      kind: ['password_reset', 'receipt'],
    },
    // Plausible requests name the first tenant's rows only (the pools above mix both tenants to
    // probe the tenant checks), so they reach the writes behind those checks.
    plausiblePools: {
      tenant_id: [tenants[0]],
      storage_key: [keys[0]],
      storage_keys: [keys[0]],
      parent_storage_key: [keys[0]],
      attachment_id: [attachments[0]],
      transactional_email_id: [emailIds[0]],
      notification_id: [notificationIds[0]],
    },
    // A create's plausible id is a new one (or none); a batch's items are new contents.
    methodPools: {
      // New ids; small bodies: plausible calls now store, and every refused call's digest hashes
      // what they stored (megabytes per attachment made the suite 6x slower).
      AddAttachment: { plausiblePools: { attachment_id: ['', ...Array.from({ length: 30 }, () => randomUUID())], content: ['%PDF-1.7 tiny', 'a,b\n1,2\n'] } },
      CreateTransactionalEmail: { pools: { transactional_email_id: ['', randomUUID(), randomUUID(), randomUUID()] } },
      BatchPutContent: { pools: { storage_key: Array.from({ length: 20 }, () => `${tenants[0]}/2026/11/${randomUUID()}`) } },
      PutContent: { pools: { storage_key: ['', `${tenants[0]}/2026/11/${randomUUID()}`] } },
      DeleteContent: {
        pools: { storage_key: [...deletable, `${tenants[0]}/2025/01/${randomUUID()}`] },
        plausiblePools: { storage_key: deletable.filter((k) => k.startsWith(`${tenants[0]}/`)) },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  if (fuzz) {
    process.stdout.write('\n' + fuzz.summary() + '\n');
    fuzz.writeResults('content');
    fuzz.close();
  }
  await h?.close();
});

test('the fuzzed methods are every method of the descriptor and of the server, but the streaming ones listed', () => {
  const served = Object.values(contentV1.ContentServiceService).filter((d) => !d.requestStream && !d.responseStream).map((d) => d.path).sort();
  expect(spec.methods.map((m) => m.path).sort()).toEqual(served);
  expect(descriptorMethods.filter((m) => m.requestStream || m.responseStream).map((m) => m.name).sort()).toEqual([...STREAMING].sort());
  expect([...order].sort()).toEqual(spec.methods.map((m) => m.name).sort());
});

const skipped = (method: string) => Boolean(settings.replay && settings.replay.method !== method);
const timeout = 60_000 + settings.runs * 2 * settings.timeoutMs;
describe.each(order)('fuzz %s', (method) => {
  (skipped(method) ? test.skip : test)('hostile input gets an actionable code, in time, writes nothing when refused, and the server keeps SERVING', async () => {
    await fuzz.fuzzMethod(method);
  }, timeout);
});

/** Every row reads back: a poison row stored by an accepted call would answer INTERNAL here. */
test('every stored row can be read back through the API', async () => {
  const bad: string[] = [];
  let calls = 0;
  const read = async <T>(rpc: string, req: object, send: () => Promise<T>): Promise<T | undefined> => {
    calls++;
    try {
      return await send();
    } catch (e) {
      const err = e as ServiceError;
      if (isBadCode(err.code)) bad.push(`${rpc}(${JSON.stringify(req).slice(0, 200)}): ${Status[err.code]} ${err.details}`);
      return undefined;
    }
  };
  const { rows: contents } = await h.pool.query<{ tenant_id: string; storage_key: string }>(
    'select tenant_id::text, storage_key from content_objects order by created desc limit 300',
  );
  for (const r of contents) {
    const get = { tenantId: r.tenant_id, storageKey: r.storage_key };
    await read('getContent', get, () => call(h.client, 'getContent', get));
    let token = '';
    for (let i = 0; i < 100; i++) {
      const list = { tenantId: r.tenant_id, parentStorageKey: r.storage_key, page: { pageSize: 100, pageToken: token } };
      const res = await read('listAttachments', list, () => call(h.client, 'listAttachments', list));
      token = res?.page?.nextPageToken ?? '';
      if (!token) break;
    }
  }
  // Every tenant with counters or a policy (the fuzzed writes and SetRetentionPolicy): usage and
  // policy read back, and BatchGetContent over the tenant's newest keys.
  const { rows: tenantRows } = await h.pool.query<{ tenant_id: string }>(
    'select distinct tenant_id::text from (select tenant_id from tenant_usage union select tenant_id from retention_policies) t limit 100',
  );
  for (const { tenant_id: tenantId } of tenantRows) {
    await read('getUsage', { tenantId }, () => call(h.client, 'getUsage', { tenantId }));
    await read('getRetentionPolicy', { tenantId }, () => call(h.client, 'getRetentionPolicy', { tenantId }));
    const storageKeys = contents.filter((c) => c.tenant_id === tenantId).slice(0, 100).map((c) => c.storage_key);
    if (storageKeys.length) await read('batchGetContent', { tenantId }, () => call(h.client, 'batchGetContent', { tenantId, storageKeys, parts: [] }));
  }
  const { rows: atts } = await h.pool.query<{ tenant_id: string; id: string }>('select tenant_id::text, id::text from attachments order by created desc limit 300');
  for (const r of atts) {
    const get = { tenantId: r.tenant_id, attachmentId: r.id };
    await read('getAttachment', get, () => call(h.client, 'getAttachment', get));
  }
  process.stdout.write(`content read-back: ${contents.length} contents, ${atts.length} attachments, ${tenantRows.length} tenants (usage, policy, batch), ${calls} calls, ${bad.length} unreadable\n`);
  expect(bad).toEqual([]);
}, 300_000);
