/**
 * Opens the database: a Postgres server when DATABASE_URL is set, embedded PGlite under
 * the data dir otherwise; then brings the schema up to date.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { WrennError, type Logger } from '@wrenn/shared';
import { migrationProvider } from './migrations/index.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';

export interface DatabaseOptions {
  /** postgres://... ; when unset, PGlite stores its files under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** In-memory PGlite (tests): nothing on disk. */
  inMemory?: boolean;
}

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// int8 (bigint) columns come back as strings: keep them exact, convert at the edges.
pg.types.setTypeParser(20, (v: string) => v);

export async function openDatabase(opts: DatabaseOptions, logger: Logger): Promise<OpenedDatabase> {
  const started = Date.now();
  let db: Kysely<Database>;
  let kind: OpenedDatabase['kind'];
  if (opts.databaseUrl) {
    kind = 'postgres';
    // A connection that cannot be made fails within 5 s (not never): the request answers 503
    // (http/errors.ts) instead of hanging while the database is away.
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: 5_000 });
    // An idle pooled connection the server closes (restart, network cut) is dropped from the
    // pool; unhandled, its 'error' would end the process.
    pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection lost'));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    kind = 'pglite';
    const { PGlite } = await import('@electric-sql/pglite');
    let dir: string | undefined;
    if (!opts.inMemory) {
      dir = join(opts.dataDir, 'db');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    const client = new PGlite(dir);
    db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  }
  try {
    const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    for (const r of results ?? []) logger.info({ migration: r.migrationName, status: r.status }, 'migration');
    if (error) throw error;
  } catch (err) {
    await db.destroy().catch(() => {});
    throw new WrennError('unavailable', `database ${kind === 'postgres' ? 'at DATABASE_URL' : 'PGlite'} could not be opened or migrated: ${(err as Error).message}`);
  }
  logger.info({ kind, durationMs: Date.now() - started }, 'database ready');
  return { db, kind, close: () => db.destroy() };
}
