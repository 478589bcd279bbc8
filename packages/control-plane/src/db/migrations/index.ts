/**
 * Migrations ship inside the package (docs/decisions.md#c6) as code, listed here in order; the Migrator
 * records applied ones in kysely_migration.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.js';
import * as m002 from './002_capsule_usage.js';
import * as m003 from './003_user_tokens.js';
import * as m004AccountSecurity from './004_account_security.js';
import * as m005 from './005_host_proxy_url.js';
import * as m006 from './006_password_throttle.js';
import * as m007 from './007_keys_follow_owner.js';
import * as m008HostsByocTags from './008_hosts_byoc_tags.js';
import * as m009 from './009_template_builds.js';
import * as m010 from './010_snapshot_host_names.js';
import * as m012 from './012_e2b_sandboxes.js';
import * as m013 from './013_host_suspect.js';
import * as m014 from './014_e2b_sandbox_network.js';
import * as m016 from './016_e2b_volumes.js';
import * as m017 from './017_password_reset_oauth.js';
import * as m018 from './018_e2b_template_builds.js';
import * as m019 from './019_notification_channels.js';

const MIGRATIONS: Record<string, Migration> = {
  '001_initial': m001,
  '002_capsule_usage': m002,
  '003_user_tokens': m003,
  '004_account_security': m004AccountSecurity,
  '005_host_proxy_url': m005,
  '006_password_throttle': m006,
  '007_keys_follow_owner': m007,
  '008_hosts_byoc_tags': m008HostsByocTags,
  '009_template_builds': m009,
  '010_snapshot_host_names': m010,
  '012_e2b_sandboxes': m012,
  '013_host_suspect': m013,
  '014_e2b_sandbox_network': m014,
  '016_e2b_volumes': m016,
  '017_password_reset_oauth': m017,
  '018_e2b_template_builds': m018,
  '019_notification_channels': m019,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
