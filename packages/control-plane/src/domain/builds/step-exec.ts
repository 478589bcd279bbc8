/**
 * How each recipe instruction runs inside the build capsule, through the host agent's
 * RPCs. User input never becomes shell text: scripts are constants and every value (user
 * names, paths, commands) is passed as a positional argument (T1).
 *
 *   RUN      /bin/sh -c cmd, as the current USER in WORKDIR with ENV, HOME and USER set
 *   ENV      expanded against the capsule's environment and earlier ENV; nothing runs
 *   WORKDIR  created (owned by the current USER when new); later steps run in it
 *   USER     created when missing (home, passwordless sudo); later steps run as it
 *   COPY     a tar of the chosen context entries, unpacked as root, given to the USER
 *   START    started in the background; it runs on in capsules from the snapshot template
 */
import { posix } from 'node:path';
import { WrennError, expandTemplate, type RecipeStep } from '@wrenn/shared';
import type { AgentClient } from '../../infra/agent-pool.js';
import type { BuildContextFiles } from './context-archive.js';
import { planCopy } from './context-copy.js';
import type { PlannedStep } from './plan.js';

export interface BuildState {
  user: string;
  home: string;
  workdir: string;
  /** What ENV set, expanded: the template's default_env. */
  env: Record<string, string>;
  /** The capsule's own environment (PATH, ...), for expanding $VAR in ENV, WORKDIR, COPY. */
  baseEnv: Record<string, string>;
  userSet: boolean;
  workdirSet: boolean;
}

export interface StepIo {
  signal: AbortSignal;
  timeoutMs: number;
  output(stream: 'stdout' | 'stderr', data: Uint8Array): void;
}

export interface StepOutcome {
  exit: number;
  timedOut?: boolean;
}

const USER_SCRIPT = `set -e
u="$1"
if ! id -u "$u" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    shell=/bin/sh; [ -x /bin/bash ] && shell=/bin/bash
    useradd --create-home --user-group --shell "$shell" "$u"
  else
    adduser -D "$u"
  fi
fi
home=$(awk -F: -v u="$u" '$1 == u { print $6 }' /etc/passwd)
[ -n "$home" ] || { echo "user $u has no home directory in /etc/passwd" >&2; exit 1; }
g=$(id -gn "$u")
if [ ! -d "$home" ]; then mkdir -p "$home"; chown "$u:$g" "$home"; fi
if [ "$u" != root ]; then
  mkdir -p /etc/sudoers.d
  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' "$u" > "/etc/sudoers.d/$u"
  chmod 0440 "/etc/sudoers.d/$u"
fi
printf '%s' "$home"`;

const WORKDIR_SCRIPT = `set -e
if [ ! -d "$1" ]; then
  mkdir -p -- "$1"
  chown -- "$2:$(id -gn "$2")" "$1"
fi`;

const COPY_SCRIPT = `set -e
t="$1"; root="$2"; u="$3"; shift 3
existed=1; [ -d "$root" ] || existed=0
mkdir -p -- "$root"
tar -xf "$t" -C "$root"
rm -f -- "$t"
g=$(id -gn "$u")
for n in "$@"; do chown -hR -- "$u:$g" "$root/$n"; done
[ "$existed" = 1 ] || chown -- "$u:$g" "$root"`;

export class StepExecutor {
  private copies = 0;

  constructor(
    private readonly agent: AgentClient,
    private readonly capsuleId: string,
    private readonly context: BuildContextFiles | undefined,
  ) {}

  /** Environment of a step: ENV, with HOME and USER of the current user unless ENV set them. */
  stepEnv(state: BuildState): Record<string, string> {
    return { HOME: state.home, USER: state.user, ...state.env };
  }

  private expand(state: BuildState, template: string): string {
    return expandTemplate(template, { ...state.baseEnv, ...this.stepEnv(state) });
  }

  /** Runs a constant script as root with positional arguments; output goes to the step's log. */
  private async script(script: string, args: string[], io: StepIo, stdin?: Uint8Array): Promise<{ exit: number; stdout: string }> {
    const res = await this.agent.exec(
      { capsuleId: this.capsuleId, cmd: '/bin/sh', args: ['-c', script, 'wrenn-build', ...args], envs: {}, user: 'root', cwd: '/', timeoutSec: Math.ceil(io.timeoutMs / 1000), ...(stdin ? { stdin } : {}) },
      { signal: io.signal, timeoutMs: io.timeoutMs + 30_000 },
    );
    if (res.stdout.length) io.output('stdout', res.stdout);
    if (res.stderr.length) io.output('stderr', res.stderr);
    return { exit: res.timedOut ? -1 : res.exitCode, stdout: Buffer.from(res.stdout).toString('utf8') };
  }

  /** The capsule's environment as `user` sees it (for $VAR in ENV, WORKDIR and COPY). */
  async readBaseEnv(user: string, signal: AbortSignal): Promise<Record<string, string>> {
    const res = await this.agent.exec({ capsuleId: this.capsuleId, cmd: '/usr/bin/env', args: [], envs: {}, user, timeoutSec: 30 }, { signal });
    const env: Record<string, string> = {};
    for (const line of Buffer.from(res.stdout).toString('utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return env;
  }

  async run(planned: PlannedStep, state: BuildState, io: StepIo): Promise<StepOutcome> {
    const step: RecipeStep = planned.step;
    switch (step.kind) {
      case 'run':
        return this.runCommand(step.cmd, planned.asRoot ? 'root' : state.user, planned.asRoot ? '/' : state.workdir, planned.asRoot ? {} : this.stepEnv(state), io);
      case 'env': {
        for (const v of step.vars) state.env[v.name] = this.expand(state, v.value);
        io.output('stdout', Buffer.from(step.vars.map((v) => `${v.name}=${state.env[v.name]}`).join('\n') + '\n'));
        return { exit: 0 };
      }
      case 'workdir': {
        const path = posix.resolve(state.workdir, this.expand(state, step.path));
        const r = await this.script(WORKDIR_SCRIPT, [path, state.user], io);
        if (r.exit === 0) {
          state.workdir = path;
          state.workdirSet = true;
        }
        return { exit: r.exit };
      }
      case 'user': {
        const r = await this.script(USER_SCRIPT, [step.name], io);
        if (r.exit === 0) {
          state.user = step.name;
          state.home = r.stdout.trim();
          state.userSet = true;
        }
        return { exit: r.exit };
      }
      case 'copy': {
        if (!this.context) throw new WrennError('failed_precondition', 'COPY needs a build context and this build has none');
        const raw = this.expand(state, step.dest);
        let dest = posix.resolve(state.workdir, raw) + (raw.endsWith('/') ? '/' : '');
        // As in Docker, a destination that is an existing directory (`.` included) receives the files.
        if (!dest.endsWith('/') && (await this.script('[ -d "$1" ]', [dest], { ...io, output: () => {} })).exit === 0) dest += '/';
        const plan = await planCopy(this.context, step.sources, dest);
        const tarPath = `/tmp/.wrenn-build-copy-${process.pid}-${++this.copies}.tar`;
        await this.agent.writeFile(oneFile(this.capsuleId, tarPath, plan.tar), { signal: io.signal, timeoutMs: io.timeoutMs + 30_000 });
        io.output('stdout', Buffer.from(`${plan.files} file(s) into ${plan.root}\n`));
        return { exit: (await this.script(COPY_SCRIPT, [tarPath, plan.root, state.user, ...plan.names], io)).exit };
      }
      case 'start': {
        const started = await this.agent.startBackground(
          { capsuleId: this.capsuleId, cmd: '/bin/sh', args: ['-c', step.cmd], envs: this.stepEnv(state), cwd: state.workdir, user: state.user, tag: `start-${step.line}` },
          { signal: io.signal },
        );
        // A START process that dies at once is a failed step, not a template without it.
        await new Promise((r) => setTimeout(r, 500));
        const alive = (await this.agent.listProcesses({ capsuleId: this.capsuleId }, { signal: io.signal })).processes.some((p) => p.pid === started.pid);
        io.output(alive ? 'stdout' : 'stderr', Buffer.from(alive ? `started (pid ${started.pid})\n` : `the START process (pid ${started.pid}) exited within 500 ms\n`));
        return { exit: alive ? 0 : 1 };
      }
    }
  }

  /** RUN: streamed so the output is visible live; a timeout or cancel ends the stream. */
  async runCommand(cmd: string, user: string, cwd: string, envs: Record<string, string>, io: StepIo): Promise<StepOutcome> {
    const deadline = AbortSignal.timeout(io.timeoutMs);
    const signal = AbortSignal.any([io.signal, deadline]);
    let exit: number | undefined;
    try {
      const stream = this.agent.execStream({ capsuleId: this.capsuleId, cmd: '/bin/sh', args: ['-c', cmd], envs, cwd, user, timeoutSec: 0 }, { signal, timeoutMs: io.timeoutMs + 30_000 });
      for await (const ev of stream) {
        if (ev.event.case === 'stdout') io.output('stdout', ev.event.value);
        else if (ev.event.case === 'stderr') io.output('stderr', ev.event.value);
        else if (ev.event.case === 'exitCode') exit = ev.event.value;
      }
    } catch (err) {
      if (deadline.aborted && !io.signal.aborted) return { exit: -1, timedOut: true };
      throw err;
    }
    if (exit === undefined) throw new WrennError('unavailable', 'the command\'s output stream ended without an exit code (the host agent may have restarted)');
    return { exit };
  }

  /** Runs `cmd` as `user` to completion (healthcheck, sync). */
  async check(cmd: string, user: string, state: BuildState, io: StepIo): Promise<StepOutcome> {
    return this.runCommand(cmd, user, state.workdir, this.stepEnv(state), io);
  }
}

async function* oneFile(capsuleId: string, path: string, data: Buffer) {
  yield { part: { case: 'header' as const, value: { capsuleId, path, user: 'root' } } };
  for (let off = 0; off < data.length; off += 1024 * 1024) yield { part: { case: 'chunk' as const, value: data.subarray(off, off + 1024 * 1024) } };
}
