// The message flows end to end against the four services. Needs metadata IngestMessage and
// analytics GetFreshness (issue 8): these tests pass once the services implement them.
import { randomUUID } from 'node:crypto';
import { campaignHoldKey, metadataV1, queueV1 } from '@penguinmails/contracts';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { createPlatform, type PenguinMails } from '../src';

let platform: Platform;
let pm: PenguinMails;
let tenantId: string;
let mailboxId: string;
beforeAll(async () => {
  platform = await startPlatform();
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  tenantId = (await pm.metadata.createTenant({ name: 'Flows' })).tenant!.id;
  mailboxId = (await pm.metadata.createEmailAccount({ tenantId, email: 'sales@acme.test', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP })).emailAccount!.id;
});
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

const waitFor = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
};

test('sendMessage stores body and attachments and the ref; a retry (same key) writes nothing new', async () => {
  const args = {
    tenantId,
    message: { emailAccountId: mailboxId, fromEmail: 'sales@acme.test', toEmail: 'lead@example.com', subject: 'Hello', providerMessageId: '<m1@acme.test>' },
    body: { contentText: 'Hi there', contentHtml: '<p>Hi there</p>', headers: { 'Message-ID': '<m1@acme.test>' } },
    attachments: [{ filename: 'deck.pdf', mimeType: 'application/pdf', content: Buffer.from('%PDF') }],
  };
  const first = await pm.sendMessage(args);
  expect(first.created).toBe(true);
  expect(first.message).toMatchObject({ direction: metadataV1.Direction.DIRECTION_OUTBOUND, subject: 'Hello' });
  expect(first.message.contentStorageKey).toMatch(new RegExp(`^${tenantId}/`));
  const again = await pm.sendMessage(args);
  expect(again).toMatchObject({ created: false, message: { id: first.message.id } });

  const view = await pm.getMessageWithBody(tenantId, first.message.id);
  expect(view.body).toMatchObject({ contentText: 'Hi there', contentHtml: '<p>Hi there</p>' });
  expect(view.body!.attachments.map((a) => a.filename)).toEqual(['deck.pdf']);
  expect(view.thread.map((m) => m.id)).toEqual([first.message.id]);
});

test('sendMessage for a claimed job takes the ids from its payload and records one message however often the job runs', async () => {
  const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'send', payload: { emailAccountId: mailboxId, toEmail: 'lead2@example.com', fromEmail: 'sales@acme.test', subject: 'Job mail' }, idempotencyKey: randomUUID() });
  const [claimed] = (await pm.queue.claimJobs({ tenantId, queue: 'send', workerId: 'w1' })).jobs;
  expect(claimed.id).toBe(job!.id);
  const a = await pm.sendMessage({ job: claimed, body: { contentText: 'from a job' } });
  const b = await pm.sendMessage({ job: claimed, body: { contentText: 'from a job' } });
  expect(a.message).toMatchObject({ clientKey: `job:${claimed.id}`, toEmail: 'lead2@example.com', subject: 'Job mail' });
  expect(b).toMatchObject({ created: false, message: { id: a.message.id } });
  await pm.queue.completeJob({ tenantId, jobId: claimed.id, workerId: 'w1', attempt: claimed.attempts });
  expect((await pm.queue.getJob({ tenantId, jobId: claimed.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_SUCCEEDED);
});

test('receiveMessage links a reply and a bounce by In-Reply-To / References; the thread shows them', async () => {
  const sent = await pm.sendMessage({
    tenantId,
    message: { emailAccountId: mailboxId, fromEmail: 'sales@acme.test', toEmail: 'lead3@example.com', subject: 'Offer', providerMessageId: '<offer@acme.test>' },
    body: { contentText: 'Offer' },
  });
  const reply = await pm.receiveMessage({
    tenantId,
    kind: 'reply',
    message: { emailAccountId: mailboxId, fromEmail: 'lead3@example.com', toEmail: 'sales@acme.test', subject: 'Re: Offer', providerMessageId: '<r1@example.com>', inReplyTo: '<offer@acme.test>' },
    body: { contentText: 'Interested!' },
  });
  expect(reply.message).toMatchObject({ parentMessageId: sent.message.id, direction: metadataV1.Direction.DIRECTION_INBOUND });
  const bounce = await pm.receiveMessage({
    tenantId,
    kind: 'bounce',
    message: { emailAccountId: mailboxId, fromEmail: 'mailer-daemon@example.com', toEmail: 'sales@acme.test', providerMessageId: '<b1@example.com>', references: ['<offer@acme.test>'], bounceType: 1 },
  });
  expect(bounce.message).toMatchObject({ parentMessageId: sent.message.id, messageType: metadataV1.MessageType.MESSAGE_TYPE_BOUNCE });

  const view = await pm.getMessageWithBody(tenantId, reply.message.id);
  expect(view.body?.contentText).toBe('Interested!');
  expect(view.rootMessageId).toBe(sent.message.id);
  expect(view.thread.map((m) => m.id)).toEqual(expect.arrayContaining([sent.message.id, reply.message.id, bounce.message.id]));
});

test('a deleted body is absent, with the ref and its content state still shown', async () => {
  const sent = await pm.sendMessage({
    tenantId,
    message: { emailAccountId: mailboxId, fromEmail: 'sales@acme.test', toEmail: 'lead4@example.com', subject: 'Gone soon' },
    body: { contentText: 'bye' },
  });
  await pm.content.deleteContent({ tenantId, storageKey: sent.message.contentStorageKey });
  const immediately = await pm.getMessageWithBody(tenantId, sent.message.id);
  expect(immediately.body).toBeUndefined();
  expect(immediately.bodyUnavailable).toBeTruthy();
  // Once metadata has consumed ContentDeleted, the ref says so (and GetContent is not even asked).
  const later = await waitFor(() => pm.getMessageWithBody(tenantId, sent.message.id), (v) => v.contentState === 'DELETED');
  expect(later).toMatchObject({ contentState: 'DELETED', bodyUnavailable: 'content deleted', message: { id: sent.message.id } });
});

test('analytics GetFreshness answers for the tenant', async () => {
  const res = await pm.analytics.getFreshness({ tenantId });
  expect(typeof res.pendingEvents).toBe('bigint');
  expect(res.lagSeconds).toBeGreaterThanOrEqual(0);
});

test('pausing a campaign in the metadata tier holds its queued sends in the queue tier (CampaignStatusChanged over JetStream); resuming releases them', async () => {
  const { CAMPAIGN_STATUS_ACTIVE, CAMPAIGN_STATUS_PAUSED } = metadataV1.CampaignStatus;
  const campaignId = (await pm.metadata.createCampaign({ tenantId, name: 'Paused mid-send' })).campaign!.id;
  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: CAMPAIGN_STATUS_ACTIVE });
  const queue = `send-hold-${randomUUID().slice(0, 8)}`;
  const send = (i: number) => ({ queue, task: 'send', holdKey: campaignHoldKey(campaignId), payload: { campaignId, i } });
  const stats = () => pm.queue.getQueueStats({ tenantId, queue }).then((r) => r.queues[0]);
  await pm.queue.enqueueJobs({ tenantId, jobs: [send(1), send(2), send(3)] });
  // another campaign's send in the same queue is not held
  const other = (await pm.queue.enqueueJob({ tenantId, queue, task: 'send', holdKey: campaignHoldKey(randomUUID()), payload: {} })).job!;

  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: CAMPAIGN_STATUS_PAUSED });
  const paused = await waitFor(stats, (s) => Number(s?.held) === 3);
  expect({ held: Number(paused.held), queued: Number(paused.queued) }).toEqual({ held: 3, queued: 1 });
  // enqueued while paused: it waits too
  await pm.queue.enqueueJobs({ tenantId, jobs: [send(4)] });
  const claimed = await pm.queue.claimJobs({ tenantId, queue, workerId: 'w-hold', maxJobs: 10 });
  expect(claimed.jobs.map((j) => j.id)).toEqual([other.id]);

  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: CAMPAIGN_STATUS_ACTIVE });
  const resumed = await waitFor(stats, (s) => Number(s?.queued) === 4);
  expect({ held: Number(resumed.held), queued: Number(resumed.queued) }).toEqual({ held: 0, queued: 4 });
  const sends = await pm.queue.claimJobs({ tenantId, queue, workerId: 'w-hold', maxJobs: 10 });
  expect(sends.jobs.map((j) => (j.payload as { i: number }).i).sort()).toEqual([1, 2, 3, 4]);
});

test('completing a campaign cancels its waiting sends in the queue tier; the sends already running finish', async () => {
  const { CAMPAIGN_STATUS_ACTIVE, CAMPAIGN_STATUS_COMPLETED } = metadataV1.CampaignStatus;
  const campaignId = (await pm.metadata.createCampaign({ tenantId, name: 'Completed mid-send' })).campaign!.id;
  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: CAMPAIGN_STATUS_ACTIVE });
  const queue = `send-end-${randomUUID().slice(0, 8)}`;
  const send = (i: number) => ({ queue, task: 'send', holdKey: campaignHoldKey(campaignId), payload: { campaignId, i } });
  const stats = () => pm.queue.getQueueStats({ tenantId, queue }).then((r) => r.queues[0]);
  await pm.queue.enqueueJobs({ tenantId, jobs: [send(1)] });
  const [running] = (await pm.queue.claimJobs({ tenantId, queue, workerId: 'w-end', maxJobs: 10 })).jobs;
  await pm.queue.enqueueJobs({ tenantId, jobs: [send(2), send(3)] });

  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: CAMPAIGN_STATUS_COMPLETED });
  const ended = await waitFor(stats, (s) => Number(s?.cancelled) === 2);
  expect({ cancelled: Number(ended.cancelled), queued: Number(ended.queued), held: Number(ended.held), running: Number(ended.running) }).toEqual({ cancelled: 2, queued: 0, held: 0, running: 1 });
  const done = await pm.queue.completeJob({ tenantId, jobId: running.id, workerId: 'w-end', attempt: running.attempts });
  expect(done.job!.status).toBe(queueV1.JobStatus.JOB_STATUS_SUCCEEDED);
});
