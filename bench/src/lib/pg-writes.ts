/**
 * What PostgreSQL writes for one phase of a bench in ONE database, although WAL is shared by the
 * whole server (other sessions write too): pg_walinspect reads the WAL between two LSNs and only
 * the records whose block references name this database's OID are counted, per record type.
 * Commit records name no block: transactions are counted from pg_stat_database.xact_commit of
 * this database (which includes the meter's own few). Full-page images are counted apart
 * (`fpiBytes`): how many there are depends on when the server last checkpointed, not on the
 * queue. Heap/index rows written come from the WAL records themselves (Heap INSERT / UPDATE /
 * HOT_UPDATE / DELETE / LOCK, Btree INSERT_LEAF / INSERT_UPPER / SPLIT_*). A temporary
 * replication slot keeps the phase's WAL until it is read. Needs a superuser (PG_ADMIN_URL's
 * user creates the bench databases, so the meter connects as it).
 */
import { Client } from 'pg';

export interface Writes {
  /** WAL records of this database, by `resource_manager record_type` (e.g. `Heap UPDATE`). */
  records: Map<string, number>;
  /** The same by relation, for Heap and Btree writes: `Btree INSERT_LEAF jobs_pkey` → count. */
  relations: Map<string, number>;
  /** WAL bytes of those records without full-page images, and the full-page images' bytes. */
  walBytes: number;
  fpiBytes: number;
  commits: number;
  /** Rows read by sequential scans of the database's tables (pg_stat_user_tables.seq_tup_read): a plan that scans the table per batch shows here. */
  seqRows: number;
}

export class WriteMeter {
  private lsn = '';
  private commits = 0;
  private seqRows = 0;
  private constructor(
    private readonly client: Client,
    private readonly dbOid: number,
  ) {}

  static async open(url: string): Promise<WriteMeter> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query('create extension if not exists pg_walinspect');
    const { rows } = await client.query<{ oid: number }>('select oid::int as oid from pg_database where datname = current_database()');
    return new WriteMeter(client, rows[0].oid);
  }

  async start(): Promise<void> {
    // A temporary physical replication slot that reserves WAL from now on: on a busy server a
    // checkpoint during the phase could otherwise recycle the segments before they are read.
    // Temporary: dropped when this session ends (close(), or the process dying).
    await this.client.query('select pg_create_physical_replication_slot($1, true, true)', [`pm_bench_writes_${process.pid}_${this.dbOid}`]);
    this.commits = await this.xactCommit();
    this.seqRows = await this.seqTupRead();
    this.lsn = (await this.client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;
  }

  async stop(): Promise<Writes> {
    const end = (await this.client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;
    // Backends report their counters when idle (at most once a second in PostgreSQL 15).
    await new Promise((r) => setTimeout(r, 1200));
    const commits = (await this.xactCommit()) - this.commits;
    const seqRows = (await this.seqTupRead()) - this.seqRows;
    const { rows } = await this.client.query<{ kind: string; n: number; bytes: number; fpi: number }>(
      `select resource_manager || ' ' || regexp_replace(record_type, '[+ ].*', '') as kind, count(*)::int as n,
              sum(record_length - fpi_length)::float8 as bytes, sum(fpi_length)::float8 as fpi
         from pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
        where block_ref ~ $3
        group by 1`,
      [this.lsn, end, `rel [0-9]+/${this.dbOid}/`],
    );
    const records = new Map(rows.map((r) => [r.kind, r.n]));
    // Which relations the index entries and heap rows went to (relfilenode → name).
    const rel = await this.client.query<{ kind: string; relname: string; n: number }>(
      `select w.resource_manager || ' ' || regexp_replace(w.record_type, '[+ ].*', '') as kind, c.relname, count(*)::int as n
         from pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) w
         join pg_class c on c.relfilenode = (regexp_match(w.block_ref, 'rel [0-9]+/${this.dbOid}/([0-9]+)'))[1]::oid
        where w.resource_manager in ('Heap', 'Btree') and w.record_type !~ '^(VACUUM|DELETE|DEDUP|META|REUSE|MARK)'
           or (w.resource_manager = 'Heap' and w.record_type ~ '^DELETE')
        group by 1, 2`,
      [this.lsn, end],
    );
    const relations = new Map<string, number>();
    for (const r of rel.rows) relations.set(`${r.kind} ${r.relname}`, r.n);
    return { records, relations, walBytes: rows.reduce((s, r) => s + r.bytes, 0), fpiBytes: rows.reduce((s, r) => s + r.fpi, 0), commits, seqRows };
  }

  private async xactCommit(): Promise<number> {
    await this.client.query('select pg_stat_clear_snapshot()');
    const { rows } = await this.client.query<{ n: number }>('select xact_commit::float8 as n from pg_stat_database where datname = current_database()');
    return rows[0].n;
  }

  private async seqTupRead(): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>('select coalesce(sum(seq_tup_read), 0)::float8 as n from pg_stat_user_tables');
    return rows[0].n;
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** The per-job figures of one phase: what the README's per-job table shows. */
export function perJob(w: Writes, jobs: number): Record<string, string> {
  const r = (k: string) => w.records.get(k) ?? 0;
  const sum = (prefix: string) => [...w.records].filter(([k]) => k.startsWith(prefix)).reduce((s, [, n]) => s + n, 0);
  const f = (n: number) => (n / jobs).toFixed(2);
  return {
    'WAL B/job': (w.walBytes / jobs).toFixed(0),
    'FPI B/job': (w.fpiBytes / jobs).toFixed(0),
    'heap ins': f(r('Heap INSERT') + r('Heap2 MULTI_INSERT')),
    'heap upd': f(r('Heap UPDATE')),
    'heap HOT': f(r('Heap HOT_UPDATE')),
    'heap del': f(r('Heap DELETE')),
    'row lock': f(r('Heap LOCK')),
    'index ins': f(sum('Btree INSERT') + sum('Btree SPLIT') + sum('Btree NEWROOT')),
    'WAL rec': f([...w.records.values()].reduce((s, n) => s + n, 0)),
    'xacts/1000': ((w.commits / jobs) * 1000).toFixed(1),
    'seq rows read': f(w.seqRows),
  };
}
