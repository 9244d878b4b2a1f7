/**
 * The floor of the gRPC hop for the lean worker protocol: what grpc-js alone costs to carry a
 * lean ClaimJobs call and its reply between two Node processes, with no codec and no database.
 *
 * A child process serves one unary method whose handler answers a fixed Buffer; requests and
 * replies are raw bytes (identity serializers), sized as the lean protocol's real messages of
 * `batch` jobs (a ClaimJobsRequest completing `batch` attempts; a ClaimJobsResponse of `batch`
 * ClaimedJobs and `batch` EndedJobs, encoded with the contract's own codec). `workers` clients in
 * this process, one call in flight each, carry `jobs` job slots. Subtracting this row's CPU per
 * job from ours (gRPC, lean) leaves what the service and the worker do per job beyond the
 * transport: protobuf, node-pg, validation, objects and their garbage.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { queueV1 } from '@penguinmails/contracts';
import * as grpc from '@grpc/grpc-js';

// The server, run with `node -e`: grpc-js is passed as a path so the child needs no module resolution of its own.
const SERVER = `
const grpc = require(process.env.FLOOR_GRPC_JS);
const reply = Buffer.alloc(Number(process.env.FLOOR_REPLY_BYTES), 1);
const id = (b) => b;
const s = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
s.addService({ call: { path: '/floor.Floor/Call', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { call: (_c, cb) => cb(null, reply) });
s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => { if (e) throw e; process.stdout.write(port + '\\n'); });
`;

/** Bytes of the lean protocol's request and reply for `batch` jobs, with the payload the bench enqueues. */
export function leanMessageSizes(batch: number, payload: (i: number) => object): { request: number; reply: number } {
  const ids = Array.from({ length: batch }, () => randomUUID());
  const request = queueV1.ClaimJobsRequest.encode({
    tenantId: randomUUID(),
    queue: 'email',
    workerId: 'w-0',
    maxJobs: batch,
    leaseSeconds: 300,
    waitMs: 0,
    lean: true,
    complete: ids.map((jobId) => ({ jobId, attempt: 1, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 })),
  }).finish().length;
  const reply = queueV1.ClaimJobsResponse.encode({
    jobs: [],
    claimed: ids.map((id, i) => ({ id, attempt: 1, task: 'noop', payloadJson: Buffer.from(JSON.stringify(payload(i))), tenantId: '' })),
    completed: ids.map((jobId) => ({ jobId, outcome: queueV1.EndOutcome.END_OUTCOME_DONE, status: queueV1.JobStatus.JOB_STATUS_SUCCEEDED, message: '' })),
  }).finish().length;
  return { request, reply };
}

export interface FloorServer {
  pid: number;
  /** Untimed calls first: JIT and the HTTP/2 windows. */
  warm(): Promise<void>;
  /** Carries `jobs` job slots as calls of `batch`, `workers` calls in flight; returns the seconds taken. */
  run(jobs: number, batch: number, workers: number): Promise<number>;
  close(): void;
}

export async function startFloorServer(sizes: { request: number; reply: number }): Promise<FloorServer> {
  const child = spawn(process.execPath, ['-e', SERVER], {
    env: { ...process.env, NODE_OPTIONS: '', FLOOR_GRPC_JS: require.resolve('@grpc/grpc-js'), FLOOR_REPLY_BYTES: String(sizes.reply) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`the gRPC floor server exited (code ${code}) before it listened`)));
  });
  const id = (b: Buffer) => b;
  const Client = grpc.makeGenericClientConstructor(
    { call: { path: '/floor.Floor/Call', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id, originalName: 'call' } },
    'Floor',
  );
  const request = Buffer.alloc(sizes.request, 1);
  const once = (c: grpc.Client) =>
    new Promise<void>((resolve, reject) =>
      (c as unknown as { call(r: Buffer, cb: (e: grpc.ServiceError | null) => void): void }).call(request, (e) => (e ? reject(e) : resolve())),
    );
  // One client (one HTTP/2 connection) for every worker, as the bench's lean workers share one.
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  return {
    pid: child.pid!,
    warm: async () => {
      for (let i = 0; i < 50; i++) await once(client);
    },
    run: async (jobs, batch, workers) => {
      let left = Math.ceil(jobs / batch);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (left > 0) {
            left -= 1;
            await once(client);
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    },
    close: () => {
      client.close();
      child.kill();
    },
  };
}
