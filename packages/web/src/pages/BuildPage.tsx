/**
 * One build, live: its steps with their commands, output, exit codes and durations, read
 * from the build's Server-Sent Events stream (through fetch, since EventSource cannot send
 * the session's Authorization header), with a cancel button while it runs.
 */
import { useEffect, useState } from 'react';
import { api, messageOf, request } from '../api';
import { useAction } from '../hooks';
import { href } from '../router';
import type { Build, BuildLogEntry } from '../types';
import { ErrorText, StatusBadge } from '../ui';

const FINAL = new Set(['success', 'failed', 'cancelled']);

/** Calls `onBuild` for every `build` event of the stream until it ends or `signal` aborts. */
async function followBuild(id: string, signal: AbortSignal, onBuild: (b: Build) => void): Promise<void> {
  const res = await request('GET', `/builds/${encodeURIComponent(id)}/events`, { signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data && /^event: build$/m.test(frame)) onBuild(JSON.parse(data) as Build);
    }
  }
}

function Step({ entry }: { entry: BuildLogEntry }) {
  const state = entry.running ? 'running' : entry.ok ? 'ok' : 'failed';
  const output = [entry.stdout, entry.stderr, entry.error].filter(Boolean).join('\n');
  return (
    <li className={`step step-${state}`} aria-label={`step ${entry.step} (${entry.phase}) ${state}`}>
      <div className="step-head">
        <code className="mono">
          {entry.phase !== 'recipe' && <span className="muted">{entry.phase}: </span>}
          {entry.cmd}
        </code>
        <span className="muted small nowrap">
          {entry.running ? 'running…' : `exit ${entry.exit}${entry.timed_out ? ' (timed out)' : ''} · ${(entry.elapsed_ms / 1000).toFixed(1)} s`}
        </span>
      </div>
      {output && (
        <pre className="mono">
          {entry.truncated ? '…\n' : ''}
          {output}
        </pre>
      )}
    </li>
  );
}

export function BuildPage({ id }: { id: string }) {
  const [build, setBuild] = useState<Build>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    const abort = new AbortController();
    let live = true;
    void (async () => {
      // The stream ends with the build; after a network break it is followed again.
      while (live) {
        try {
          await followBuild(id, abort.signal, (b) => setBuild(b));
          const last = await api<Build>('GET', `/builds/${encodeURIComponent(id)}`);
          setBuild(last);
          setError(undefined);
          if (FINAL.has(last.status)) return;
        } catch (err) {
          if (!live) return;
          setError(messageOf(err));
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    })();
    return () => {
      live = false;
      abort.abort();
    };
  }, [id]);
  const cancel = useAction(async () => {
    await api('POST', `/builds/${encodeURIComponent(id)}/cancel`);
  });
  const done = build ? (FINAL.has(build.status) ? build.total_steps : build.current_step) : 0;
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={href('builds')}>Builds</a> / <span className="mono">{build?.name ?? id}</span>
      </nav>
      <header className="page-head">
        <h1 className="mono">{build?.name ?? id}</h1>
        {build && <StatusBadge status={build.status} moving={!FINAL.has(build.status)} />}
        {build && !FINAL.has(build.status) && (
          <button type="button" className="danger" disabled={cancel.busy} onClick={() => void cancel.run()}>
            {cancel.busy ? 'Cancelling…' : 'Cancel build'}
          </button>
        )}
      </header>
      <ErrorText error={cancel.error ?? error} />
      {build && (
        <>
          <p className="muted">
            From <span className="mono">{build.base_template}</span> · step {done} of {build.total_steps}
            {build.status === 'success' && ` · saved as a ${build.template_type ?? 'base'} template, user ${build.default_user}`}
          </p>
          <div className="progress-line" role="progressbar" aria-label="Build progress" aria-valuemin={0} aria-valuemax={build.total_steps} aria-valuenow={done}>
            <span style={{ width: `${build.total_steps ? (100 * done) / build.total_steps : 0}%` }} />
          </div>
          {build.error && <ErrorText error={`The build failed: ${build.error}`} />}
          <ol className="steps" aria-label="Steps">
            {(build.logs ?? []).map((l) => (
              <Step key={`${l.phase}-${l.step}`} entry={l} />
            ))}
          </ol>
        </>
      )}
    </>
  );
}
