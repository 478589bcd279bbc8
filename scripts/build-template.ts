/**
 * Builds a built-in template into the host agent's data dir (used by setup and CI; the
 * agent builds `minimal` on first start the same way). A second run is a no-op unless
 * --rebuild. Shows a progress bar on a terminal, one line per phase otherwise.
 *
 *   npx tsx scripts/build-template.ts [minimal|busybox] [--rebuild] [--data-dir /var/lib/wrenn] [--verbose]
 *
 * The capsule id range comes from WRENN_UID_BASE / WRENN_UID_RANGE, as for the agent
 * (templates are shifted into it); the data dir from --data-dir or WRENN_DATA_DIR.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createLogger, isWrennError } from '@wrenn/shared';
import { TemplateStore, type TemplateBuildProgress } from '../packages/host-agent/src/infra/template/index.js';

const USAGE = 'usage: npx tsx scripts/build-template.ts [minimal|busybox] [--rebuild] [--data-dir DIR] [--verbose]';
const TEMPLATES = ['minimal', 'busybox'] as const;
type BuiltinTemplate = (typeof TEMPLATES)[number];

function fail(message: string, code = 1): never {
  process.stderr.write(`build-template: ${message}\n`);
  process.exit(code);
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`, 2);
  return n;
}

function parseCommandLine(): { template: BuiltinTemplate; rebuild: boolean; dataDir: string; verbose: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        rebuild: { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (parsed.positionals.length > 1) fail(`one template at a time\n${USAGE}`, 2);
  const template = parsed.positionals[0] ?? 'minimal';
  if (!(TEMPLATES as readonly string[]).includes(template)) fail(`unknown template ${JSON.stringify(template)}: choose ${TEMPLATES.join(' or ')}\n${USAGE}`, 2);
  return {
    template: template as BuiltinTemplate,
    rebuild: parsed.values.rebuild ?? false,
    dataDir: parsed.values['data-dir'] ?? (process.env.WRENN_DATA_DIR || '/var/lib/wrenn'),
    verbose: parsed.values.verbose ?? false,
  };
}

/** Progress on a terminal: one bar; elsewhere (CI logs): one line per phase. */
function progressView(interactive: boolean) {
  if (!interactive) {
    return {
      update(p: TemplateBuildProgress) {
        process.stdout.write(`[${p.step}/${p.totalSteps}] ${p.template}: ${p.message}${p.percent === undefined ? '' : ` (${p.percent}%)`}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: ' {bar} {percentage}% | {step}/{totalSteps} {message} | {duration_formatted}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: TemplateBuildProgress) {
      const payload = { step: p.step, totalSteps: p.totalSteps, message: p.message };
      if (!started) {
        bar.start(100, p.percent ?? 0, payload);
        started = true;
      } else {
        bar.update(p.percent ?? 0, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

async function main(): Promise<void> {
  const args = parseCommandLine();
  if (process.getuid?.() !== 0) fail('must run as root (it builds a root filesystem and changes owners): sudo npx tsx scripts/build-template.ts ...');

  const interactive = Boolean(process.stdout.isTTY);
  const logger = createLogger({ name: 'build-template', level: args.verbose ? 'info' : 'warn' }, process.stderr);
  const store = new TemplateStore({
    dataDir: args.dataDir,
    idMapping: { hostBase: positiveInt('WRENN_UID_BASE', 100000), size: positiveInt('WRENN_UID_RANGE', 65536) },
    logger,
  });

  const abort = new AbortController();
  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nbuild-template: cancelling (the half-built template is removed; Ctrl-C again to quit at once)\n');
    abort.abort();
  });

  const view = progressView(interactive);
  const startedAt = performance.now();
  let built = false;
  try {
    const options = {
      rebuild: args.rebuild,
      signal: abort.signal,
      onProgress: (p: TemplateBuildProgress) => {
        built = true;
        view.update(p);
      },
    };
    const template = args.template === 'minimal' ? await store.ensureMinimal(options) : await store.ensureBusybox(options);
    view.stop();
    const sizeMiB = (template.sizeBytes / 1024 / 1024).toFixed(0);
    const how = built ? `built in ${((performance.now() - startedAt) / 1000).toFixed(1)} s` : 'already built; --rebuild to build again';
    process.stdout.write(`template ${template.name}: ${template.lowerDir} (${sizeMiB} MiB, default user ${template.defaultUser}) ${how}\n`);
  } catch (err) {
    view.stop();
    fail(isWrennError(err) ? `${err.message} (${err.code})` : String((err as Error)?.stack ?? err));
  }
}

await main();
