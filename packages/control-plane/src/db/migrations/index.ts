/**
 * Migrations ship inside the package (C6) as code, listed here in order; the Migrator
 * records applied ones in kysely_migration.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.js';

const MIGRATIONS: Record<string, Migration> = {
  '001_initial': m001,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
