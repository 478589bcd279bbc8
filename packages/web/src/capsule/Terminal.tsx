/** The Terminal tab: xterm.js on the PTY WebSocket, sized to its box as the window changes. */
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { PtyConnection, type PtyState } from './pty';

export function TerminalTab({ capsuleId }: { capsuleId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const conn = useRef<PtyConnection>(null);
  const [state, setState] = useState<{ state: PtyState; detail?: string }>({ state: 'connecting' });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const el = box.current!;
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0f1419', foreground: '#e6e1cf' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    const pty = new PtyConnection(
      capsuleId,
      { cols: term.cols, rows: term.rows },
      {
        output: (data) => term.write(data),
        state: (s, detail) => setState({ state: s, ...(detail ? { detail } : {}) }),
      },
    );
    conn.current = pty;
    const onData = term.onData((d) => pty.input(d));
    const onResize = term.onResize(({ cols, rows }) => pty.resize(cols, rows));
    // The box follows the window (CSS); the terminal follows the box.
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // hidden (0×0): nothing to fit
      }
    });
    observer.observe(el);
    term.focus();
    return () => {
      observer.disconnect();
      onData.dispose();
      onResize.dispose();
      pty.dispose();
      term.dispose();
    };
  }, [capsuleId, generation]);

  const label = { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', exited: 'Exited', failed: 'Disconnected' }[state.state];
  return (
    <section aria-label="Terminal" className="terminal-tab">
      <div className="terminal-bar">
        <span className={`dot dot-${state.state}`} aria-hidden="true" />
        <span role="status" aria-live="polite">
          {label}
          {state.detail ? `: ${state.detail}` : ''}
        </span>
        {(state.state === 'exited' || state.state === 'failed') && (
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            New terminal
          </button>
        )}
      </div>
      <div ref={box} className="terminal-box" data-testid="terminal" />
    </section>
  );
}
