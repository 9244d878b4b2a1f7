import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';

/**
 * "Cold cache" without restarting PostgreSQL or dropping the kernel's caches (neither is
 * allowed to a benchmark on a shared machine). Before each cold run:
 *
 * 1. CHECKPOINT, so no page of the database is dirty.
 * 2. Shared buffers: a filler table of 2x shared_buffers is read with pg_prewarm(…, 'buffer'),
 *    which uses the normal buffer replacement (a sequential scan would use a 256 KB ring and
 *    evict nothing), until pg_buffercache shows no buffer of the measured tables or their
 *    indexes/TOAST left (at most 6 passes; the count left is reported).
 * 3. OS page cache: posix_fadvise(DONTNEED) on every file of the bench database except the
 *    filler (`dd iflag=nocache count=0`), checked with fincore. Only possible when the server's
 *    data directory is on this machine and readable (root or the postgres user); otherwise
 *    skipped and reported, and "cold" then means "not in shared buffers, maybe in the OS cache".
 * 4. A new connection (a fresh backend with empty catalog and plan caches), `discard all`, and
 *    a plain EXPLAIN of the query, so that what is timed is the query's own I/O and not the
 *    loading of catalog entries (the planner reads each index's metapage: a few pages).
 *
 * Limits: the disk underneath (a virtual disk with its own host-side cache) may still answer
 * faster than a real cold read; the filler's eviction also empties the catalogs from shared
 * buffers; other processes on the machine keep running.
 */
export class ColdCache {
  private filler = 'bench_cold_filler';
  private extensions = false;
  private dbDir?: string;
  private fillerNode?: string;
  readonly notes: string[] = [];

  constructor(private readonly db: Client) {}

  async setup(log: (s: string) => void): Promise<void> {
    try {
      await this.db.query('create extension if not exists pg_prewarm');
      await this.db.query('create extension if not exists pg_buffercache');
      this.extensions = true;
    } catch (err) {
      this.notes.push(`pg_prewarm/pg_buffercache unavailable (${(err as Error).message}): shared buffers evicted by an index scan of the filler, not verified`);
    }
    const sb = await this.db.query<{ bytes: string }>(`select (setting::bigint * 8192)::text as bytes from pg_settings where name = 'shared_buffers'`);
    const sharedBytes = Number(sb.rows[0].bytes);
    const fillerBytes = Math.min(2 * sharedBytes, 4 * 1024 ** 3);
    if (fillerBytes < 2 * sharedBytes) this.notes.push(`shared_buffers is ${sharedBytes} bytes; the filler is capped at 4 GB, eviction may be partial`);
    // ~1 KB rows, 7 per page; not TOASTed, not compressed.
    const rows = Math.ceil(fillerBytes / 1100);
    const t0 = performance.now();
    await this.db.query(`create table ${this.filler} (id int primary key, pad text) with (autovacuum_enabled = off)`);
    await this.db.query(`alter table ${this.filler} alter column pad set storage plain`);
    await this.db.query(`insert into ${this.filler} select g, repeat(md5(g::text), 30) from generate_series(1, $1) g`, [rows]);
    log(`cold-cache filler: ${(fillerBytes / 1024 ** 2).toFixed(0)} MB (2 x shared_buffers ${(sharedBytes / 1024 ** 2).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const dir = await this.db.query<{ dir: string; oid: number; node: string }>(
      `select current_setting('data_directory') as dir, (select oid from pg_database where datname = current_database()) as oid, pg_relation_filenode('${this.filler}')::text as node`,
    );
    const candidate = join(dir.rows[0].dir, 'base', String(dir.rows[0].oid));
    try {
      accessSync(candidate, constants.R_OK);
      execFileSync('dd', ['--version'], { stdio: 'ignore' });
      this.dbDir = candidate;
      this.fillerNode = dir.rows[0].node;
    } catch {
      this.notes.push(`the server's data directory (${candidate}) is not readable here: the OS page cache is NOT dropped, so "cold" means "not in shared buffers" only`);
    }
  }

  /** Evicts; returns what is left (buffers in shared_buffers, bytes in the OS cache). */
  async evict(tables: string[]): Promise<{ buffersLeft: number | null; osCachedBytes: number | null; ms: number }> {
    const t0 = performance.now();
    await this.db.query('checkpoint');
    let left: number | null = null;
    for (let pass = 0; pass < 6; pass++) {
      if (this.extensions) await this.db.query(`select pg_prewarm('${this.filler}', 'buffer')`);
      else await this.db.query(`set enable_seqscan = off; select sum(length(pad)) from ${this.filler} where id > 0; reset enable_seqscan`);
      if (!this.extensions) break;
      left = await this.buffersOf(tables);
      if (left === 0) break;
    }
    let cached: number | null = null;
    if (this.dbDir) {
      const files = readdirSync(this.dbDir).filter((f) => /^\d+(_\w+)?(\.\d+)?$/.test(f) && f.split(/[._]/)[0] !== this.fillerNode);
      for (const f of files) {
        try {
          execFileSync('dd', [`if=${join(this.dbDir, f)}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
        } catch {
          // A file dropped meanwhile (a temp relation): nothing to evict.
        }
      }
      cached = this.residentBytes(tables.length ? files : []);
    }
    return { buffersLeft: left, osCachedBytes: cached, ms: performance.now() - t0 };
  }

  private async buffersOf(tables: string[]): Promise<number> {
    const r = await this.db.query<{ n: string }>(
      `with rels as (
         select c.oid from pg_class c where c.relname = any($1)
         union select i.indexrelid from pg_index i join pg_class c on c.oid = i.indrelid where c.relname = any($1)
         union select c.reltoastrelid from pg_class c where c.relname = any($1) and c.reltoastrelid <> 0
         union select i.indexrelid from pg_index i join pg_class c on c.reltoastrelid = i.indrelid where c.relname = any($1)
       )
       select count(*)::text as n from pg_buffercache b
        where b.reldatabase = (select oid from pg_database where datname = current_database())
          and b.relfilenode in (select pg_relation_filenode(oid) from rels)`,
      [tables],
    );
    return Number(r.rows[0].n);
  }

  private residentBytes(files: string[]): number | null {
    if (!this.dbDir || files.length === 0) return null;
    try {
      const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files.map((f) => join(this.dbDir!, f))], { encoding: 'utf8' });
      return out
        .split('\n')
        .filter(Boolean)
        .reduce((a, l) => a + Number(l.trim()), 0);
    } catch {
      return null;
    }
  }

  async teardown(): Promise<void> {
    await this.db.query(`drop table if exists ${this.filler}`);
  }
}
