import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

/**
 * What a migrated database may hold beyond schema.prisma: objects Prisma's schema language
 * cannot express (partial indexes, check constraints, triggers, functions), each with the
 * reason it exists. Read from `<serviceDir>/prisma/migration-only.json`.
 */
export interface MigrationOnlyObjects {
  indexes?: Record<string, string>;
  constraints?: Record<string, string>;
  triggers?: Record<string, string>;
  functions?: Record<string, string>;
}

type Kind = keyof MigrationOnlyObjects | 'tables' | 'columns';

/** One catalog object: its kind, a unique name, and a definition compared textually. */
interface CatalogItem {
  kind: Kind;
  name: string;
  definition: string;
}

export interface PrismaDriftOptions {
  /** Server to create the two scratch databases on; default PG_ADMIN_URL or the local server. */
  adminUrl?: string;
  /** Schema file, default `<serviceDir>/prisma/schema.prisma`. */
  schemaPath?: string;
  /** Migrations folder, default `<serviceDir>/prisma/migrations`. */
  migrationsDir?: string;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

/**
 * Proves that a service's SQL migrations and its schema.prisma describe the same database.
 *
 * Applies `prisma/migrations/<name>/migration.sql` in order to one fresh database, and the SQL
 * that Prisma 6.19's `migrate diff --from-empty --to-schema-datamodel` prints (its bundled
 * WebAssembly schema engine, `engine: "js"`, no download) to another, then compares the two
 * catalogs: tables, columns (type, nullability, default), constraints (PK, FK with actions,
 * unique, check), indexes, triggers and functions of the `public` schema. Objects that only
 * migrations can make must be listed with a reason in `prisma/migration-only.json`; a listed
 * object that no longer exists is also an error. Throws an Error naming every difference.
 */
export async function assertMigrationsMatchPrismaSchema(serviceDir: string, options: PrismaDriftOptions = {}): Promise<void> {
  const admin = options.adminUrl ?? process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const schemaPath = options.schemaPath ?? join(serviceDir, 'prisma', 'schema.prisma');
  const migrationsDir = options.migrationsDir ?? join(serviceDir, 'prisma', 'migrations');
  const allowListPath = join(serviceDir, 'prisma', 'migration-only.json');
  const allowed: MigrationOnlyObjects = existsSync(allowListPath) ? JSON.parse(readFileSync(allowListPath, 'utf8')) : {};

  const suffix = randomBytes(4).toString('hex');
  const fromMigrations = `drift_m_${suffix}`;
  const fromPrisma = `drift_p_${suffix}`;
  const adminClient = new Client({ connectionString: admin });
  await adminClient.connect();
  try {
    await adminClient.query(`create database ${fromMigrations}`);
    await adminClient.query(`create database ${fromPrisma}`);

    const migrations = readdirSync(migrationsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(migrationsDir, d.name, 'migration.sql')))
      .map((d) => d.name)
      .sort();
    if (migrations.length === 0) throw new Error(`no migrations in ${migrationsDir}`);
    await withClient(withDatabase(admin, fromMigrations), async (c) => {
      for (const m of migrations) {
        const sql = readFileSync(join(migrationsDir, m, 'migration.sql'), 'utf8');
        await c.query('begin');
        try {
          await c.query(sql);
          await c.query('commit');
        } catch (err) {
          await c.query('rollback');
          throw new Error(`migration ${m} failed: ${(err as Error).message}`, { cause: err });
        }
      }
    });

    const prismaSql = await prismaDiffFromEmpty(schemaPath, withDatabase(admin, fromPrisma));
    await withClient(withDatabase(admin, fromPrisma), (c) => c.query(prismaSql).then(() => undefined));

    const migrated = await withClient(withDatabase(admin, fromMigrations), snapshot);
    const modelled = await withClient(withDatabase(admin, fromPrisma), snapshot);
    const problems = compare(migrated, modelled, allowed);
    if (problems.length > 0) {
      throw new Error(
        `schema.prisma and the migrations of ${serviceDir} disagree:\n  - ${problems.join('\n  - ')}\n` +
          'Fix the migration (draft it with prisma6 migrate diff) or list a Prisma-inexpressible object in prisma/migration-only.json.',
      );
    }
  } finally {
    for (const db of [fromMigrations, fromPrisma]) {
      await adminClient.query(`drop database if exists ${db} with (force)`).catch(() => undefined);
    }
    await adminClient.end();
  }
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Runs Prisma 6.19's CLI (the `prisma6` alias) for `migrate diff --from-empty` and returns the
 * SQL. Prisma 7 schemas carry no datasource url and Prisma 6 requires one, so a copy of the
 * schema gets the scratch database's url and loses its generator blocks. The js engine opens
 * a connection through the adapter (it reads the server version), hence a real database.
 */
async function prismaDiffFromEmpty(schemaPath: string, databaseUrl: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'prisma-drift-'));
  try {
    const schema = readFileSync(schemaPath, 'utf8')
      .replace(/generator\s+\w+\s*\{[^}]*\}/g, '')
      .replace(/(datasource\s+\w+\s*\{)/, `$1\n  url = ${JSON.stringify(databaseUrl)}`);
    writeFileSync(join(dir, 'schema.prisma'), schema);
    const adapterPath = require.resolve('prisma6-adapter-pg');
    writeFileSync(
      join(dir, 'prisma.config.ts'),
      [
        `const { PrismaPg } = require(${JSON.stringify(adapterPath)});`,
        'export default {',
        '  experimental: { adapter: true },',
        "  engine: 'js',",
        // A short idle timeout lets the CLI exit as soon as it is done (pg's default is 10 s).
        `  adapter: async () => new PrismaPg({ connectionString: ${JSON.stringify(databaseUrl)}, idleTimeoutMillis: 50 }),`,
        '};',
        '',
      ].join('\n'),
    );
    const cli = require.resolve('prisma6/build/index.js');
    // The CLI checks for native engines at start; any existing file satisfies the check and
    // the WebAssembly engine does the work (the binaries host is unreachable here).
    const env = {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
      PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY || process.execPath,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    };
    const args = [cli, 'migrate', 'diff', '--config', join(dir, 'prisma.config.ts'), '--from-empty', '--to-schema-datamodel', join(dir, 'schema.prisma'), '--script'];
    try {
      const { stdout } = await run(process.execPath, args, { cwd: dir, env, maxBuffer: 32 * 1024 * 1024, timeout: 120_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`prisma6 migrate diff failed: ${e.stderr || e.message}`, { cause: err });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function snapshot(c: Client): Promise<Map<string, CatalogItem>> {
  const items = new Map<string, CatalogItem>();
  const add = (kind: Kind, name: string, definition: string) => items.set(`${kind}:${name}`, { kind, name, definition });

  const tables = await c.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')`,
  );
  for (const t of tables.rows) add('tables', t.name, 'table');

  const columns = await c.query<{ tbl: string; col: string; type: string; notnull: boolean; def: string | null; num: number }>(
    `select c.relname as tbl, a.attname as col, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as notnull, pg_get_expr(d.adbin, d.adrelid) as def, a.attnum as num
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`,
  );
  for (const r of columns.rows) {
    add('columns', `${r.tbl}.${r.col}`, `${r.type}${r.notnull ? ' not null' : ''}${r.def ? ` default ${r.def}` : ''}`);
  }

  const constraints = await c.query<{ tbl: string; name: string; def: string }>(
    `select c.relname as tbl, k.conname as name, pg_get_constraintdef(k.oid) as def
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public'`,
  );
  for (const r of constraints.rows) add('constraints', r.name, `${r.tbl}: ${r.def}`);

  const indexes = await c.query<{ name: string; def: string }>(
    `select indexname as name, indexdef as def from pg_indexes where schemaname = 'public'`,
  );
  for (const r of indexes.rows) add('indexes', r.name, r.def);

  const triggers = await c.query<{ tbl: string; name: string; def: string }>(
    `select c.relname as tbl, t.tgname as name, pg_get_triggerdef(t.oid) as def
       from pg_trigger t
       join pg_class c on c.oid = t.tgrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and not t.tgisinternal`,
  );
  for (const r of triggers.rows) add('triggers', r.name, r.def);

  const functions = await c.query<{ name: string; def: string }>(
    `select p.proname as name, pg_get_functiondef(p.oid) as def
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public'`,
  );
  for (const r of functions.rows) add('functions', r.name, r.def);
  return items;
}

function compare(migrated: Map<string, CatalogItem>, modelled: Map<string, CatalogItem>, allowed: MigrationOnlyObjects): string[] {
  const problems: string[] = [];
  const isAllowed = (item: CatalogItem) =>
    item.kind !== 'tables' && item.kind !== 'columns' && Object.prototype.hasOwnProperty.call(allowed[item.kind] ?? {}, item.name);

  for (const [key, m] of migrated) {
    const p = modelled.get(key);
    if (!p) {
      if (!isAllowed(m)) problems.push(`${m.kind} ${m.name} exists only in the migrations (${m.definition})`);
    } else if (p.definition !== m.definition) {
      problems.push(`${m.kind} ${m.name} differs: migrations have "${m.definition}", schema.prisma has "${p.definition}"`);
    }
  }
  for (const [key, p] of modelled) {
    if (!migrated.has(key)) problems.push(`${p.kind} ${p.name} is in schema.prisma but not in the migrations (${p.definition})`);
  }
  for (const kind of ['indexes', 'constraints', 'triggers', 'functions'] as const) {
    for (const [name, reason] of Object.entries(allowed[kind] ?? {})) {
      if (!reason || !reason.trim()) problems.push(`migration-only.json: ${kind} ${name} has no reason`);
      if (!migrated.has(`${kind}:${name}`)) problems.push(`migration-only.json lists ${kind} ${name}, which the migrations do not create`);
      if (modelled.has(`${kind}:${name}`)) problems.push(`migration-only.json lists ${kind} ${name}, which schema.prisma expresses: remove it from the list`);
    }
  }
  return problems.sort();
}
