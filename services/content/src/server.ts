import { contentV1 } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer } from '@penguinmails/service-kit';
import type { ServerDeps } from './deps';
import { BATCH_PUT_DEFAULT_MAX_BYTES, batchPutContent } from './rpc/batch-put-content';
import { addAttachment, downloadAttachment, getAttachment, listAttachments, uploadAttachment } from './rpc/attachments';
import { batchGetContent, deleteContent, getContent, putContent, setExpiry } from './rpc/content';
import { createNotification, getNotification, listNotifications, markAllNotificationsRead, markNotificationRead } from './rpc/notifications';
import { getRetentionPolicy, getUsage, setRetentionPolicy } from './rpc/usage';
import { createTransactionalEmail, getTransactionalEmail, listTransactionalEmails, updateTransactionalEmailStatus } from './rpc/transactional-emails';

export type { Limits, ServerDeps } from './deps';

/** Room for the request's other fields and framing above the largest payload we accept. */
const ENVELOPE_HEADROOM = 1024 * 1024;

/**
 * The largest gRPC message the server reads: the biggest attachment, body or BatchPutContent we accept plus
 * headroom. A request a little over our limit therefore reaches the handler, which answers
 * INVALID_ARGUMENT naming the field and the setting; only a grossly oversized one is cut by
 * grpc-js itself (RESOURCE_EXHAUSTED). grpc-js's default (4 MiB) would refuse most attachments.
 */
function maxMessageBytes(limits: ServerDeps['limits']): number {
  return Math.max(limits.attachmentMaxBytes, limits.contentMaxBytes, limits.batchPutMaxBytes ?? BATCH_PUT_DEFAULT_MAX_BYTES) + ENVELOPE_HEADROOM;
}

/**
 * The content service's gRPC server (health, reflection, auth and error mapping from the
 * service kit), ready to `listen`. main.ts and the tests both build it here.
 */
export function createServer(deps: ServerDeps): GrpcServer {
  const server = createGrpcServer({
    service: 'content',
    logger: deps.logger,
    ...deps.grpc,
    limits: {
      ...deps.grpc?.limits,
      maxReceiveBytes: Math.max(deps.grpc?.limits?.maxReceiveBytes ?? 0, maxMessageBytes(deps.limits)),
      maxSendBytes: Math.max(deps.grpc?.limits?.maxSendBytes ?? 0, maxMessageBytes(deps.limits)),
    },
  });
  return server.addService<contentV1.ContentServiceServer>('penguinmails.content.v1.ContentService', contentV1.ContentServiceService, {
    putContent: putContent(deps),
    getContent: getContent(deps),
    deleteContent: deleteContent(deps),
    addAttachment: addAttachment(deps),
    getAttachment: getAttachment(deps),
    listAttachments: listAttachments(deps),
    uploadAttachment: uploadAttachment(deps),
    downloadAttachment: downloadAttachment(deps),
    createTransactionalEmail: createTransactionalEmail(deps),
    getTransactionalEmail: getTransactionalEmail(deps),
    listTransactionalEmails: listTransactionalEmails(deps),
    updateTransactionalEmailStatus: updateTransactionalEmailStatus(deps),
    createNotification: createNotification(deps),
    getNotification: getNotification(deps),
    listNotifications: listNotifications(deps),
    markNotificationRead: markNotificationRead(deps),
    markAllNotificationsRead: markAllNotificationsRead(deps),
    batchGetContent: batchGetContent(deps),
    setExpiry: setExpiry(deps),
    getUsage: getUsage(deps),
    setRetentionPolicy: setRetentionPolicy(deps),
    getRetentionPolicy: getRetentionPolicy(deps),
    batchPutContent: batchPutContent(deps),
  });
}
