import pino, { type DestinationStream, type Logger } from 'pino';
import { redactText } from './redact';

export type { Logger } from 'pino';

/**
 * Keys whose value is a secret wherever they appear in a log object (top level or one level
 * down, e.g. `{ config: { password } }`, `{ headers: { authorization } }`). Censored by pino
 * before the line is written.
 */
export const REDACTED_LOG_PATHS = [
  'password',
  '*.password',
  'pass',
  '*.pass',
  'token',
  '*.token',
  'tokens',
  '*.tokens',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'metadata.authorization',
  'headers.authorization',
  'connectionString',
  '*.connectionString',
];

/**
 * JSON logs to stdout (one object a line, for the platform's collector); pretty only when
 * asked (`LOG_PRETTY=true`, which `npm start` sets on a terminal). Every line carries the
 * service name; the gRPC layer adds `requestId` and `rpc` through child loggers.
 *
 * Secrets: keys named like secrets are censored (`REDACTED_LOG_PATHS`), and every line passes
 * through `redactText` before it is written, which hides `user:password@` and `//token@` in
 * any URL, message or stack (driver errors may quote a connection string). The kit redacts URLs
 * where it logs them; this is the backstop for what it did not build.
 */
export function createLogger(opts: { service: string; level?: string; pretty?: boolean; /** Tests: where lines go instead of stdout. */ destination?: DestinationStream }): Logger {
  const options: pino.LoggerOptions = {
    name: opts.service,
    level: opts.level ?? 'info',
    base: { service: opts.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: redactText },
    ...(opts.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } } }
      : {}),
  };
  return opts.destination && !opts.pretty ? pino(options, opts.destination) : pino(options);
}
