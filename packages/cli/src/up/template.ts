/**
 * The `minimal` base template for `wrenn up`: built on first start (about a minute) with a
 * progress bar on a terminal and one line per phase elsewhere; a no-op once it exists.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { HostAgent, TemplateBuildProgress } from '@wrenn/host-agent';

export function minimalTemplateExists(dataDir: string): boolean {
  return existsSync(join(dataDir, 'templates', 'minimal'));
}

function view(interactive: boolean, log: (line: string) => void) {
  if (!interactive) {
    return {
      update: (p: TemplateBuildProgress) => log(`[${p.step}/${p.totalSteps}] ${p.template}: ${p.message}${p.percent === undefined ? '' : ` (${p.percent}%)`}`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: ' minimal template {bar} {percentage}% | {step}/{totalSteps} {message} | {duration_formatted}', hideCursor: true, clearOnComplete: false, stream: process.stdout },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: TemplateBuildProgress) {
      const payload = { step: p.step, totalSteps: p.totalSteps, message: p.message };
      if (!started) bar.start(100, p.percent ?? 0, payload);
      else bar.update(p.percent ?? 0, payload);
      started = true;
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export async function ensureMinimalTemplate(agent: HostAgent, opts: { signal: AbortSignal; log: (line: string) => void }): Promise<void> {
  const v = view(Boolean(process.stdout.isTTY), opts.log);
  let built = false;
  const startedAt = Date.now();
  try {
    await agent.templates.ensureMinimal({
      signal: opts.signal,
      onProgress: (p) => {
        if (!built) opts.log('building the minimal template (first start only; about a minute)');
        built = true;
        v.update(p);
      },
    });
  } finally {
    v.stop();
  }
  if (built) opts.log(`minimal template built in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
}
