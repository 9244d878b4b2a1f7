import { contentV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, encodeCursor } from '@penguinmails/service-kit';
import { randomUUID } from 'node:crypto';
import type { ServerDeps } from '../deps';
import * as emails from '../domain/transactional-emails';
import { bytesText, checkFutureTime, checkKind, checkNoNul, toTransactionalEmail } from './mappers';

const SUBJECT_MAX = 500;
const PROVIDER_ID_MAX = 255;
const DETAIL_MAX = 500;
const DAY_MS = 86_400_000;

export function createTransactionalEmail(deps: ServerDeps) {
  return async (req: contentV1.CreateTransactionalEmailRequest): Promise<contentV1.CreateTransactionalEmailResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.optionalUuid('transactional_email_id', req.transactionalEmailId) ?? randomUUID();
    const recipientEmail = v.email('recipient_email', req.recipientEmail);
    const recipientUserId = v.optionalUuid('recipient_user_id', req.recipientUserId) ?? null;
    const kind = checkKind(v, 'kind', req.kind);
    const subject = v.string('subject', req.subject, { max: SUBJECT_MAX, required: true, trim: false });
    checkNoNul(v, 'subject', subject);
    checkNoNul(v, 'content_text', req.contentText);
    checkNoNul(v, 'content_html', req.contentHtml);
    if (req.contentText === undefined && req.contentHtml === undefined)
      v.add('content_text', 'REQUIRED', 'a transactional email needs a body: content_text, content_html or both');
    const sizes = {
      text: req.contentText === undefined ? 0 : Buffer.byteLength(req.contentText, 'utf8'),
      html: req.contentHtml === undefined ? 0 : Buffer.byteLength(req.contentHtml, 'utf8'),
    };
    const max = deps.limits.contentMaxBytes;
    if (sizes.text + sizes.html > max)
      v.add(sizes.html > sizes.text ? 'content_html' : 'content_text', 'TOO_LARGE', `the body is ${sizes.text + sizes.html} bytes; the limit (CONTENT_MAX_BYTES) is ${bytesText(max)}`);
    let bodyExpires = checkFutureTime(v, 'body_expires', req.bodyExpires);
    if (!bodyExpires && deps.limits.defaultRetentionDays > 0) bodyExpires = new Date(Date.now() + deps.limits.defaultRetentionDays * DAY_MS);
    v.done();
    const res = await emails.createTransactionalEmail(deps, {
      id,
      tenantId,
      recipientEmail,
      recipientUserId,
      kind,
      subject,
      contentText: req.contentText ?? null,
      contentHtml: req.contentHtml ?? null,
      bodyExpires: bodyExpires ?? null,
      sizes,
    });
    return { transactionalEmail: toTransactionalEmail(res.email), created: res.created };
  };
}

export function getTransactionalEmail(deps: ServerDeps) {
  return async (req: contentV1.GetTransactionalEmailRequest): Promise<contentV1.GetTransactionalEmailResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('transactional_email_id', req.transactionalEmailId);
    v.done();
    return { transactionalEmail: toTransactionalEmail(await emails.getTransactionalEmail(deps.prisma, tenantId, id)) };
  };
}

export function listTransactionalEmails(deps: ServerDeps) {
  return async (req: contentV1.ListTransactionalEmailsRequest): Promise<contentV1.ListTransactionalEmailsResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const recipientEmail = v.email('recipient_email', req.recipientEmail);
    const size = v.pageSize('page.page_size', req.page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
    v.done();
    const binding = JSON.stringify(['transactional_emails', tenantId, recipientEmail]);
    const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
    const page = await emails.listTransactionalEmails(deps.pool, tenantId, recipientEmail, cursor, size);
    return {
      transactionalEmails: page.rows.map(toTransactionalEmail),
      page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) },
    };
  };
}

export function updateTransactionalEmailStatus(deps: ServerDeps) {
  return async (req: contentV1.UpdateTransactionalEmailStatusRequest): Promise<contentV1.UpdateTransactionalEmailStatusResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('transactional_email_id', req.transactionalEmailId);
    const status = emails.statusColumn(v.enumValue('status', req.status, contentV1.TransactionalEmailStatus));
    const providerMessageId = v.string('provider_message_id', req.providerMessageId, { max: PROVIDER_ID_MAX });
    checkNoNul(v, 'provider_message_id', providerMessageId);
    const statusDetail = v.string('status_detail', req.statusDetail, { max: DETAIL_MAX });
    checkNoNul(v, 'status_detail', statusDetail);
    v.done();
    const res = await emails.updateStatus(deps, {
      tenantId,
      id,
      status: status!,
      providerMessageId: providerMessageId || null,
      statusDetail: statusDetail || null,
    });
    return { transactionalEmail: toTransactionalEmail(res.email), changed: res.changed };
  };
}
