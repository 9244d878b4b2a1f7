import { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, encodeCursor, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { levelFromProto } from '../domain/enums';
import * as logs from '../domain/job-logs';
import { toJobLog } from './mappers';
import { jsonSize } from './validate';

export function jobLogHandlers(deps: ServerDeps): Pick<Handlers<queueV1.QueueServiceServer>, 'appendJobLog' | 'listJobLogs'> {
  const { limits } = deps;
  return {
    appendJobLog: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      v.enumValue('level', req.level, queueV1.JobLogLevel, { required: false });
      const message = v.string('message', req.message, { max: 10_000, required: true });
      jsonSize(v, 'data', req.data, limits.payloadMaxBytes);
      v.done();
      const row = await logs.appendJobLog(deps, {
        tenantId,
        jobId,
        level: levelFromProto(req.level) ?? 'info',
        message,
        data: req.data,
      });
      return { log: toJobLog(row) };
    },

    listJobLogs: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      const pageSize = v.pageSize('page.page_size', req.page?.pageSize, { default: limits.pageSizeDefault, max: limits.pageSizeMax });
      v.done();
      const binding = JSON.stringify(['job_logs', tenantId, jobId]);
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const page = await logs.listJobLogs(deps, { tenantId, jobId, cursor, size: pageSize });
      return { logs: page.rows.map(toJobLog), page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) } };
    },
  };
}
