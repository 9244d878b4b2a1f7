import type { ChildProcess } from 'node:child_process';

/**
 * What a service's log line says about its ports (JSON logs, info level): "gRPC server listening"
 * (service-kit grpc/server.ts: the gRPC port, as soon as it is bound) and "<name> service ready"
 * (service-kit service.ts: everything started; the gRPC port and, when METRICS_PORT is set and
 * could be bound, the /metrics port).
 */
export type ListeningLine = { kind: 'grpc'; port: number } | { kind: 'ready'; port: number; metricsPort?: number };

/** The listening or ready line of one log line, if it is one. */
export function parseListeningLine(line: string): ListeningLine | undefined {
  if (!line.includes(' listening') && !line.includes(' service ready')) return undefined;
  let entry: { msg?: unknown; port?: unknown; metricsPort?: unknown };
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined; // not a JSON log line
  }
  if (typeof entry.port !== 'number' || typeof entry.msg !== 'string') return undefined;
  if (entry.msg === 'gRPC server listening') return { kind: 'grpc', port: entry.port };
  if (entry.msg.endsWith(' service ready')) return { kind: 'ready', port: entry.port, ...(typeof entry.metricsPort === 'number' ? { metricsPort: entry.metricsPort } : {}) };
  return undefined;
}

/** Calls `onLine` with each complete line of `stream`'s output (a partial line waits for its end). */
export function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = '';
  stream.on('data', (chunk: Buffer | string) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!.slice(-64 * 1024);
    for (const line of lines) onLine(line);
  });
}

/**
 * The ports a service process bound, from its "service ready" log line: start it with
 * GRPC_PORT=0 (and METRICS_PORT=0 for /metrics), its stdout piped and LOG_LEVEL at info or lower,
 * and call this at once. The OS picks each port when the server binds it, so no other process
 * can take the port between a test choosing it and the service binding it (a "free port" chosen
 * first can be, by a test in another jest worker). Resolves when the service is ready; rejects
 * when it exits first, or after `timeoutMs` (default 60 s). The stdout listener stays, so the
 * pipe keeps draining.
 */
export function listeningPorts(proc: ChildProcess, opts: { timeoutMs?: number } = {}): Promise<{ grpc: number; metrics?: number }> {
  if (!proc.stdout) throw new Error('listeningPorts needs the child\'s stdout piped (stdio: [..., "pipe", ...])');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.off('exit', onExit);
      fn();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() => reject(new Error(`the service exited (${signal ?? `code ${code}`}) before it was ready:\n${tail.join('\n')}`)));
    const timer = setTimeout(() => settle(() => reject(new Error(`the service was not ready within ${timeoutMs} ms:\n${tail.join('\n')}`))), timeoutMs);
    proc.once('exit', onExit);
    eachLine(proc.stdout!, (line) => {
      if (settled) return;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const l = parseListeningLine(line);
      if (l?.kind === 'ready') settle(() => resolve({ grpc: l.port, ...(l.metricsPort !== undefined ? { metrics: l.metricsPort } : {}) }));
    });
  });
}
