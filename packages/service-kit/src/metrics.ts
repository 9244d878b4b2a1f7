import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';

/** One sample of a gauge collected on scrape. */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

/** Gives the samples of a gauge when Prometheus scrapes. Throwing leaves the gauge empty for that scrape. */
export type Collector = () => Sample[] | Promise<Sample[]>;

/**
 * The process's Prometheus registry and the metrics the kit records. Labels never carry a
 * tenant id (cardinality, and tenants are not to be named in a shared monitoring system).
 *
 * RPC metrics use the grpc-ecosystem/go-grpc-prometheus names, so existing dashboards and
 * alerts apply: `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
 * `grpc_server_handling_seconds` (histogram), labelled `grpc_type`, `grpc_service`, `grpc_method`.
 *
 * Gauges whose value lives elsewhere (the outbox backlog, a consumer's lag, queue depth) are
 * collected on scrape: {@link collect} adds a collector to a gauge; several collectors may feed
 * one gauge (two pools in one test process) and each can be removed again.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly grpcHandling: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  private readonly gauges = new Map<string, { gauge: Gauge<string>; collectors: Set<Collector> }>();
  private readonly counters = new Map<string, Counter<string>>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    this.grpcStarted = new Counter({ name: 'grpc_server_started_total', help: 'RPCs started on the server.', labelNames, registers: [this.registry] });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: [...labelNames, 'grpc_code'],
      registers: [this.registry],
    });
    this.grpcHandling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from the start of an RPC to its status, seconds.',
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  /** Adds `collector` to the gauge `name` (created on first use). Returns a function that removes it. */
  collect(name: string, help: string, labelNames: readonly string[], collector: Collector): () => void {
    let entry = this.gauges.get(name);
    if (!entry) {
      const collectors = new Set<Collector>();
      const gauge = new Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers: [this.registry],
        async collect() {
          this.reset();
          const results = await Promise.allSettled([...collectors].map(async (c) => c()));
          for (const r of results) {
            if (r.status !== 'fulfilled') continue;
            for (const s of r.value) {
              if (s.labels && Object.keys(s.labels).length) this.inc(s.labels, s.value);
              else this.inc(s.value);
            }
          }
        },
      });
      entry = { gauge, collectors };
      this.gauges.set(name, entry);
    }
    const { collectors } = entry;
    collectors.add(collector);
    return () => collectors.delete(collector);
  }

  /** A counter shared by every caller that names it (created on first use). */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      this.counters.set(name, c);
    }
    return c;
  }

  /** The text exposition format, as `/metrics` serves it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

let processMetrics: Metrics | undefined;

/** The process-wide metrics: what the kit's gRPC server, pools, relay and consumers record into. */
export function defaultMetrics(): Metrics {
  processMetrics ??= new Metrics({ defaultMetrics: true });
  return processMetrics;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** The port it listens on; undefined when it could not listen (the service runs on without it). */
  port?: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and `GET /` with a hint) on `host:port`. A port already in use (or any
 * listen error) is one warning line and no endpoint: metrics must never stop a service.
 */
export async function startMetricsServer(opts: { port: number; host?: string; metrics?: Metrics; logger: Logger }): Promise<MetricsServer> {
  const metrics = opts.metrics ?? defaultMetrics();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404).end('not found; GET /metrics\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: Error) => {
        opts.logger.warn({ err: err.message }, 'collecting metrics failed');
        res.writeHead(500).end('collecting metrics failed\n');
      },
    );
  });
  const port = await new Promise<number | undefined>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      opts.logger.warn(
        { metricsPort: opts.port, code: err.code },
        err.code === 'EADDRINUSE'
          ? `METRICS_PORT ${opts.port} is in use; serving without /metrics`
          : `cannot serve /metrics on port ${opts.port} (${err.message}); serving without it`,
      );
      resolve(undefined);
    });
    server.listen(opts.port, opts.host, () => resolve((server.address() as AddressInfo).port));
  });
  if (port === undefined) return { close: async () => undefined };
  server.unref();
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
