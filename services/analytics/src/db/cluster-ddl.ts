/**
 * Cluster mode of the ClickHouse migrations (CLICKHOUSE_CLUSTER=<name>): turns each statement
 * the migration files (and the runner's ledger) are written in, single-server DDL, into the DDL
 * of a sharded, replicated ClickHouse cluster. The files stay the one source; this module
 * rewrites them at apply time, so a new migration is covered without a second copy of it.
 *
 * The layout it produces, per table of the MergeTree family named `T` in the files:
 *   - `T_local` on every node: `Replicated<X>MergeTree('/clickhouse/tables/{shard}/{database}/T_local', '{replica}', <X's own args>)`,
 *     created `ON CLUSTER` (the server's macros `{shard}` and `{replica}` fill the path);
 *   - `T`, a `Distributed('<cluster>', '<database>', 'T_local', <sharding key>)` table on every node.
 * The Distributed table takes the name the files use, so every query and insert of the service
 * (which name `T`) reads all shards and writes through the sharding key without a code change;
 * only DDL sees `_local`. Materialized views attach to the local tables on each node (`... TO
 * T_local AS SELECT ... FROM S_local`): a view fires on the node that received the block, so
 * each shard rolls up its own rows and the Distributed rollup merges the shards' states.
 * Plain views are created on every node and read the Distributed tables.
 *
 * Sharding key: `cityHash64(tenant_id)` when the table has a tenant_id column, else `rand()`.
 * By tenant because a duplicate of an event (a redelivery, the same fact from another path) has
 * the same tenant and so reaches the same shard, where ReplacingMergeTree / the uniqExact sets
 * collapse it; a per-shard FINAL is then the global answer. The cost: one very large tenant
 * lives on one shard (re-shard by (tenant_id, campaign_id) then, which keeps that property only
 * while every copy of a fact carries the same campaign).
 *
 * Inserts run through the Distributed tables with `insert_distributed_sync = 1`: a migration's
 * backfill must be stored on the shards before the next statement reads it.
 *
 * Hand-written (no SQL parser on npm speaks ClickHouse's DDL): it recognises the statement forms
 * the migrations use, found by their leading keywords, and refuses any other form with a
 * message naming it, so a migration in a new form fails test/cluster-ddl.test.ts instead of
 * being applied to a cluster half-right. It cannot be run here (no ClickHouse cluster, no
 * Keeper): the test renders every migration and has chDB's parser check the result.
 */

import { CLUSTER_NAME, IDENTIFIER } from '../config';

/** A name as written: `` `db`.`t` ``, `db.t` or `t`. */
const NAME = String.raw`(?:(?:\x60[^\x60]+\x60|[A-Za-z_][A-Za-z0-9_]*)\.)?(?:\x60[^\x60]+\x60|[A-Za-z_][A-Za-z0-9_]*)`;
const LEADING_COMMENTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;

/** One qualified name split into its parts, quotes kept as written. */
interface Name {
  /** `` `db`. `` or `db.` or ''. */
  prefix: string;
  /** The table name without quotes. */
  table: string;
  quoted: boolean;
}

function parseName(text: string): Name {
  const m = new RegExp(String.raw`^((?:\x60[^\x60]+\x60|[A-Za-z_][A-Za-z0-9_]*)\.)?(\x60[^\x60]+\x60|[A-Za-z_][A-Za-z0-9_]*)$`).exec(text.trim());
  if (!m) throw new Error(`not a table name: ${text}`);
  const raw = m[2];
  const quoted = raw.startsWith('`');
  return { prefix: m[1] ?? '', table: quoted ? raw.slice(1, -1) : raw, quoted };
}

const show = (n: Name, table = n.table) => `${n.prefix}${n.quoted ? `\`${table}\`` : table}`;
const LOCAL = '_local';

/** Index of the `)` matching the `(` at `open`, skipping quoted text and comments. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '-' && s[i + 1] === '-') {
      const end = s.indexOf('\n', i);
      if (end === -1) break;
      i = end;
    } else if (c === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2);
      if (end === -1) break;
      i = end + 1;
    } else if (c === "'" || c === '`' || c === '"') {
      const end = s.indexOf(c, i + 1);
      if (end === -1) break;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new Error(`unbalanced parentheses in: ${s.slice(open, open + 80)}`);
}

export interface ClusterDdlOptions {
  /** CLICKHOUSE_CLUSTER: a cluster of the servers' `remote_servers` configuration. */
  cluster: string;
  /** CLICKHOUSE_DATABASE (the Distributed engine names it as a string). */
  database: string;
}


export class ClusterDdl {
  /** Tables of the MergeTree family (sharded: `_local` + Distributed), with their sharding key. */
  private readonly sharded = new Map<string, string>();
  private readonly on: string;

  /**
   * `statements`: every statement of every migration (applied or not, in order, the database
   * placeholder already replaced) and the runner's own DDL: the renderer learns from them which
   * names are sharded tables, including names a later migration gives them by RENAME.
   */
  constructor(
    readonly options: ClusterDdlOptions,
    statements: string[],
  ) {
    if (!CLUSTER_NAME.test(options.cluster)) throw new Error(`ClickHouse cluster name "${options.cluster}" is not a plain name`);
    if (!IDENTIFIER.test(options.database)) throw new Error(`ClickHouse database name "${options.database}" is not a plain identifier`);
    this.on = `on cluster '${options.cluster}'`;
    for (const s of statements) this.learn(strip(s));
  }

  /** Is `table` (unqualified) a sharded table of the files? */
  isSharded(table: string): boolean {
    return this.sharded.has(table);
  }

  private learn(s: string): void {
    const create = new RegExp(String.raw`^create\s+table\s+(?:if\s+not\s+exists\s+)?(${NAME})`, 'i').exec(s);
    if (create && /\bengine\s*=\s*\w*MergeTree\b/i.test(s)) {
      this.sharded.set(parseName(create[1]).table, shardingKey(s));
      return;
    }
    const rename = /^rename\s+table\s+([\s\S]+)$/i.exec(s);
    if (rename) {
      for (const [from, to] of renamePairs(rename[1])) {
        const key = this.sharded.get(from.table);
        if (key !== undefined) this.sharded.set(to.table, key);
      }
    }
  }

  /** The cluster statements for one single-server statement (one or more, in order). */
  render(statement: string): string[] {
    const s = strip(statement);
    const head = (re: string) => new RegExp(`^${re}`, 'i').exec(s);
    let m: RegExpExecArray | null;

    if ((m = head(String.raw`(create\s+database\s+(?:if\s+not\s+exists\s+)?${NAME})`))) {
      return [`${m[1]} ${this.on}${s.slice(m[0].length)}`];
    }

    if ((m = head(String.raw`create\s+table\s+(if\s+not\s+exists\s+)?(${NAME})`))) {
      const name = parseName(m[2]);
      const rest = s.slice(m[0].length);
      const engine = /\bengine\s*=\s*(Replicated)?(\w*)MergeTree\b/i.exec(rest);
      if (!engine) return [`create table ${m[1] ?? ''}${show(name)} ${this.on}${rest}`];
      if (engine[1]) throw new Error(`cluster mode: ${name.table} is already Replicated in the migration; write the single-server engine and let src/db/cluster-ddl.ts replicate it`);
      const local = name.table + LOCAL;
      const afterEngine = engine.index + engine[0].length;
      let args = '';
      let end = afterEngine;
      const open = rest.slice(afterEngine).search(/\S/);
      if (open !== -1 && rest[afterEngine + open] === '(') {
        const close = matchingParen(rest, afterEngine + open);
        args = rest.slice(afterEngine + open + 1, close).trim();
        end = close + 1;
      }
      const replicated =
        `engine = Replicated${engine[2]}MergeTree('/clickhouse/tables/{shard}/{database}/${local}', '{replica}'` + (args ? `, ${args})` : ')');
      return [
        `create table ${m[1] ?? ''}${show(name, local)} ${this.on}${rest.slice(0, engine.index)}${replicated}${rest.slice(end)}`,
        this.distributed(name, m[1] ?? ''),
      ];
    }

    if ((m = head(String.raw`create\s+materialized\s+view\s+(if\s+not\s+exists\s+)?(${NAME})\s+to\s+(${NAME})\s+as\s+`))) {
      const to = parseName(m[3]);
      const target = this.isSharded(to.table) ? show(to, to.table + LOCAL) : show(to);
      return [`create materialized view ${m[1] ?? ''}${m[2]} ${this.on} to ${target} as ${this.localSources(s.slice(m[0].length))}`];
    }
    if (head(String.raw`create\s+materialized\s+view`)) {
      throw new Error('cluster mode: a materialized view must name its target table (`create materialized view ... to <table> as select ...`)');
    }

    if ((m = head(String.raw`(create\s+(?:or\s+replace\s+)?view\s+(?:if\s+not\s+exists\s+)?${NAME})`))) {
      return [`${m[1]} ${this.on}${s.slice(m[0].length)}`];
    }

    if ((m = head(String.raw`(insert\s+into\s+(?:table\s+)?${NAME}\s*(?:\([^)]*\))?)\s*`))) {
      if (/^settings\b/i.test(s.slice(m[0].length))) throw new Error('cluster mode: an insert with its own SETTINGS clause is not rendered; move the setting to the select');
      return [`${m[1]} settings insert_distributed_sync = 1 ${s.slice(m[0].length)}`];
    }

    if ((m = head(String.raw`alter\s+table\s+(${NAME})\s+`))) {
      const name = parseName(m[1]);
      const rest = s.slice(m[0].length);
      if (!this.isSharded(name.table)) return [`alter table ${show(name)} ${this.on} ${rest}`];
      const out = [`alter table ${show(name, name.table + LOCAL)} ${this.on} ${rest}`];
      // A Distributed table has its own column list: column changes go to it as well, the rest
      // (TTL, settings, indexes, partitions) concerns the stored data only.
      if (/^(add|drop|modify|rename|comment)\s+column\b/i.test(rest)) out.push(`alter table ${show(name)} ${this.on} ${rest}`);
      return out;
    }

    if ((m = head(String.raw`drop\s+(table|view|dictionary)\s+(if\s+exists\s+)?(${NAME})`))) {
      const name = parseName(m[3]);
      const rest = s.slice(m[0].length);
      const kind = m[1].toLowerCase();
      const ifExists = m[2] ?? '';
      if (kind !== 'table' || !this.isSharded(name.table)) return [`drop ${kind} ${ifExists}${show(name)} ${this.on}${rest}`];
      return [`drop table ${ifExists}${show(name)} ${this.on}${rest}`, `drop table ${ifExists}${show(name, name.table + LOCAL)} ${this.on}${rest}`];
    }

    if ((m = head(String.raw`rename\s+table\s+`))) {
      const pairs = renamePairs(s.slice(m[0].length));
      const out = [
        `rename table ${pairs
          .map(([a, b]) => (this.isSharded(a.table) ? `${show(a, a.table + LOCAL)} to ${show(b, b.table + LOCAL)}` : `${show(a)} to ${show(b)}`))
          .join(', ')} ${this.on}`,
      ];
      // The Distributed tables name their local table and copy its columns when created: those
      // of the renamed names are dropped and created again over the renamed local tables.
      const sharded = pairs.filter(([a]) => this.isSharded(a.table));
      const seen = new Set<string>();
      for (const n of sharded.flatMap(([a, b]) => [a, b])) {
        if (seen.has(n.table)) continue;
        seen.add(n.table);
        out.push(`drop table if exists ${show(n)} ${this.on} sync`);
      }
      for (const [, b] of sharded) out.push(this.distributed(b, 'if not exists '));
      return out;
    }

    if ((m = head(String.raw`(optimize|truncate)\s+table\s+(if\s+exists\s+)?(${NAME})`))) {
      const name = parseName(m[3]);
      const target = this.isSharded(name.table) ? show(name, name.table + LOCAL) : show(name);
      return [`${m[1]} table ${m[2] ?? ''}${target} ${this.on}${s.slice(m[0].length)}`];
    }

    throw new Error(
      `cluster mode cannot render this statement: "${s.slice(0, 100).replace(/\s+/g, ' ')}"; teach services/analytics/src/db/cluster-ddl.ts its form (and test/cluster-ddl.test.ts checks it)`,
    );
  }

  /** `create table T on cluster as T_local engine = Distributed(...)`. */
  private distributed(name: Name, ifNotExists: string): string {
    const key = this.sharded.get(name.table) ?? 'rand()';
    const local = name.table + LOCAL;
    return (
      `create table ${ifNotExists}${show(name)} ${this.on} as ${show(name, local)} ` +
      `engine = Distributed('${this.options.cluster}', '${this.options.database}', '${local}', ${key})`
    );
  }

  /** The select of a materialized view, reading the local tables of the sharded ones it names. */
  private localSources(select: string): string {
    return select.replace(new RegExp(String.raw`\b(from|join)\s+(${NAME})`, 'gi'), (all, kw: string, n: string) => {
      const name = parseName(n);
      return this.isSharded(name.table) ? `${kw} ${show(name, name.table + LOCAL)}` : all;
    });
  }
}

/** The statement without its leading comments and trailing `;`. */
function strip(statement: string): string {
  return statement.replace(LEADING_COMMENTS, '').replace(/;\s*$/, '').trim();
}

function renamePairs(list: string): [Name, Name][] {
  return list
    .trim()
    .split(/\s*,\s*/)
    .map((pair) => {
      const m = new RegExp(String.raw`^(${NAME})\s+to\s+(${NAME})$`, 'i').exec(pair.trim());
      if (!m) throw new Error(`cluster mode: cannot read the rename "${pair}"`);
      return [parseName(m[1]), parseName(m[2])];
    });
}

/** `cityHash64(tenant_id)` when the table's column list declares tenant_id, else `rand()`. */
function shardingKey(createTable: string): string {
  const open = createTable.indexOf('(');
  const columns = open === -1 ? '' : createTable.slice(open, matchingParen(createTable, open) + 1);
  return /^\s*\(?\s*`?tenant_id`?\s+\w/m.test(columns) ? 'cityHash64(tenant_id)' : 'rand()';
}
