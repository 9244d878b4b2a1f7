// scratch: PostgreSQL CPU per job of claim+complete (lean function), one connection, variants
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
const url = 'postgres://postgres@127.0.0.1:5432/zz_split';
const N = Number(process.env.N ?? 30000);
const B = 1000;
const tenant = '00000000-0000-0000-0000-000000000001';
const hz = 100;
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / hz; };
async function run(c: Client, fn: string, label: string) {
  await c.query('truncate jobs cascade; truncate outbox_events');
  await c.query(`insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts)
    select gen_random_uuid(), $1, 'q', 'noop', jsonb_build_object('i', g), 0, now(), 3 from generate_series(1, $2) g`, [tenant, N]);
  await c.query('checkpoint');
  const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p;
  const c0 = cpu(pid); const t0 = performance.now();
  let prev: { id: string; attempts: number }[] = [];
  let done = 0;
  for (;;) {
    const { rows } = await c.query(`select kind, id, attempts from ${fn}($1, 'q', 'w1', $2, 300, string_to_array($3::text, ',')::uuid[], string_to_array($4::text, ',')::int[], '{}'::jsonb[], 'pm.queue.x.jobs_succeeded', null, null, null, 10000000)`,
      [tenant, B, prev.map((r) => r.id).join(','), prev.map((r) => r.attempts).join(',')]);
    const got = rows.filter((r) => r.kind === 'j');
    if (process.env.CLAIMONLY) { done += got.length; prev = []; if (got.length === 0) break; continue; }
    done += prev.length;
    prev = got;
    if (prev.length === 0) break;
  }
  const secs = (performance.now() - t0) / 1000; const c1 = cpu(pid);
  console.log(`${label.padEnd(34)} ${done} jobs ${(done / secs).toFixed(0).padStart(7)} jobs/s  backend CPU ${(((c1 - c0) * 1e6) / done).toFixed(1)} µs/job`);
}
async function main() {
  const c = new Client({ connectionString: url }); await c.connect();
  const def = (await c.query(`select pg_get_functiondef('pm_queue_claim_lean(uuid,varchar,varchar,int,double precision,uuid[],int[],jsonb[],varchar,text,text,timestamptz,bigint)'::regprocedure) as d`)).rows[0].d as string;
  const mk = async (name: string, edit: (s: string) => string) => { const d = edit(def.replace(/FUNCTION public\.pm_queue_claim_lean\(/, `FUNCTION public.${name}(`)); if (d === def) throw new Error('no edit'); await c.query(d); };
  await mk('zz_nolock', (s) => s.replace('for update skip locked', ''));
  await c.query('create table if not exists jobs_done (like jobs)');
  await mk('zz_move', (s) => s.replace(/with done as \(\s*update jobs[\s\S]*?returning jobs\.id, jobs\.queue, jobs\.task, jobs\.attempts\s*\)/, `with gone as (
      delete from jobs using unnest(p_ids, p_attempts, p_outputs) as i(id, attempt, output)
       where jobs.id = i.id and jobs.tenant_id = p_tenant
         and case jobs.status when 'running' then jobs.locked_by = p_worker and jobs.attempts = i.attempt end
      returning jobs.*, i.output as out
    ), done as (
      insert into jobs_done (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, attempts, status, finished, ended_by, output, created, updated)
      select g.id, g.tenant_id, g.queue, g.task, g.payload, g.priority, g.run_at, g.max_attempts, g.attempts, 'succeeded', now(), p_worker, g.out, g.created, now() from gone g
      returning jobs_done.id, jobs_done.queue, jobs_done.task, jobs_done.attempts
    )`));
  await mk('zz_noevent', (s) => s.replace(/\), event as \([\s\S]*?where e\.jobs is not null\s*\)/, ')'));
  await mk('zz_nocase', (s) => s.replace("and case jobs.status when 'running' then jobs.locked_by = p_worker and jobs.attempts = i.attempt end", "and jobs.status = 'running' and jobs.locked_by = p_worker and jobs.attempts = i.attempt"));
  const rounds = Number(process.env.R ?? 2);
  const variants = (process.env.V ?? 'base,nolock,move,nostatusidx,noleasedidx').split(',');
  for (let r = 0; r < rounds; r++) for (const v of variants) {
    if (v === 'base') await run(c, 'pm_queue_claim_lean', 'base');
    if (v === 'noevent') await run(c, 'zz_noevent', 'completion without its outbox event');
    if (v === 'nocase') await run(c, 'zz_nocase', 'completion status test without case');
    if (v === 'nolock') await run(c, 'zz_nolock', 'claim without for update skip locked');
    if (v === 'move') { await c.query('truncate jobs_done'); await run(c, 'zz_move', 'complete = delete + insert jobs_done'); }
    if (v === 'nostatusidx') { await c.query('begin'); await c.query('drop index jobs_status_created_idx'); await run(c, 'pm_queue_claim_lean', 'without jobs_status_created_idx'); await c.query('rollback'); }
    if (v === 'noleasedidx') { await c.query('begin'); await c.query('drop index jobs_leased_idx'); await run(c, 'pm_queue_claim_lean', 'without jobs_leased_idx'); await c.query('rollback'); }
  }
  await c.end();
}
main().catch((e) => { console.error(e); process.exit(1); });
