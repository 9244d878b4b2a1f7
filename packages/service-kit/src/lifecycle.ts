import type { Logger } from 'pino';
import { ConfigError } from './config';
import { redactText } from './redact';

/**
 * Calls `shutdown` once on SIGTERM or SIGINT (a second signal exits at once), and exits 0
 * when it resolves, 1 when it throws.
 */
export function onShutdownSignals(logger: Logger, shutdown: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown(signal).then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * Runs a service's `main`: a configuration error or a start-up failure with a clear message
 * prints one line (no stack trace) and exits 1.
 */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const e = err as Error;
    // Scrubbed again here: a start-up failure may carry a driver's message we did not build.
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${redactText(e.message)}\n`);
    } else {
      process.stderr.write(`${service}: failed to start: ${redactText(String(e?.message ?? err))}\n`);
      if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') process.stderr.write(`${redactText(String(e?.stack))}\n`);
    }
    process.exit(1);
  });
}
