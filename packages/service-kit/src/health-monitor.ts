import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { GrpcServer } from './grpc/server';

/** One dependency probe: resolves when the dependency answers, rejects (or times out) when not. */
export interface DependencyCheck {
  name: string;
  check: () => Promise<unknown>;
}

/** `select 1` on the pool. */
export const postgresCheck = (pool: Pool): DependencyCheck => ({ name: 'postgres', check: () => pool.query('select 1') });

/** A round trip to the NATS server (fails while disconnected or closed). */
export const natsCheck = (nc: NatsConnection): DependencyCheck => ({
  name: 'nats',
  check: async () => {
    if (nc.isClosed()) throw new Error('connection closed');
    await nc.flush();
  },
});

/**
 * Keeps the gRPC health status true to the service's dependencies: every `intervalMs` it runs
 * the checks (each bounded by `timeoutMs`); any failure turns the server NOT_SERVING (load
 * balancers and Kubernetes readiness stop sending calls that could only fail), and it turns
 * SERVING again once all checks pass. Transitions are logged once, not every tick.
 */
export class DependencyMonitor {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private failing = new Set<string>();

  constructor(
    private readonly opts: { server: GrpcServer; logger: Logger; checks: DependencyCheck[]; intervalMs?: number; timeoutMs?: number },
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.checkOnce().then(() => undefined, () => undefined).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.opts.intervalMs ?? 5_000).unref();
      });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 5_000).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs every check once and updates the health status; resolves with the failing names. */
  async checkOnce(): Promise<string[]> {
    const timeoutMs = this.opts.timeoutMs ?? 2_000;
    const results = await Promise.all(
      this.opts.checks.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            c.check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          return { name: c.name };
        } catch (err) {
          return { name: c.name, error: (err as Error).message };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const failing = results.filter((r) => r.error);
    for (const f of failing) if (!this.failing.has(f.name)) this.opts.logger.error({ dependency: f.name, err: f.error }, 'dependency down: NOT_SERVING');
    for (const r of results) if (!r.error && this.failing.has(r.name)) this.opts.logger.info({ dependency: r.name }, 'dependency back');
    this.failing = new Set(failing.map((f) => f.name));
    this.opts.server.setServing(this.failing.size === 0);
    return [...this.failing];
  }
}
