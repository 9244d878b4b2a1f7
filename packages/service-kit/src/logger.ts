import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs to stdout (one object a line, for the platform's collector); pretty only when
 * asked (`LOG_PRETTY=true`, which `npm start` sets on a terminal). Every line carries the
 * service name; the gRPC layer adds `requestId` and `rpc` through child loggers.
 */
export function createLogger(opts: { service: string; level?: string; pretty?: boolean }): Logger {
  return pino({
    name: opts.service,
    level: opts.level ?? 'info',
    base: { service: opts.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(opts.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } } }
      : {}),
  });
}
