/**
 * A terminal session over the PTY WebSocket that survives network blips: the session
 * lives on in the capsule (the server keeps it 120 s without a client), so when the socket
 * drops without an `exit`, we reconnect with backoff and re-attach by its tag. The tag is
 * kept per capsule in sessionStorage so a page reload re-attaches too.
 */
import { wsAuthMessage, wsUrl } from '../api';

export type PtyState = 'connecting' | 'open' | 'reconnecting' | 'exited' | 'failed';

export interface PtyEvents {
  output(data: Uint8Array): void;
  state(state: PtyState, detail?: string): void;
}

const tagKey = (capsuleId: string) => `wrenn.pty.${capsuleId}`;

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class PtyConnection {
  private ws: WebSocket | undefined;
  private tag: string | undefined;
  private closed = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private size: { cols: number; rows: number };

  constructor(
    private readonly capsuleId: string,
    size: { cols: number; rows: number },
    private readonly events: PtyEvents,
  ) {
    this.size = size;
    this.tag = sessionStorage.getItem(tagKey(capsuleId)) ?? undefined;
    this.open();
  }

  private open(): void {
    const ws = new WebSocket(wsUrl(`/capsules/${encodeURIComponent(this.capsuleId)}/pty`));
    this.ws = ws;
    let started = false;
    ws.onopen = () => {
      ws.send(wsAuthMessage());
      ws.send(JSON.stringify(this.tag ? { type: 'connect', tag: this.tag } : { type: 'start', cols: this.size.cols, rows: this.size.rows }));
    };
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as { type: string; tag?: string; data?: string; exit_code?: number; message?: string; code?: string; fatal?: boolean };
      if (m.type === 'started') {
        started = true;
        this.attempts = 0;
        this.tag = m.tag;
        if (m.tag) sessionStorage.setItem(tagKey(this.capsuleId), m.tag);
        this.events.state('open');
        this.resize(this.size.cols, this.size.rows); // the window may have changed while away
      } else if (m.type === 'output' && m.data) {
        this.events.output(fromBase64(m.data));
      } else if (m.type === 'exit') {
        this.forget();
        this.closed = true;
        this.events.state('exited', `The shell exited (code ${m.exit_code ?? '?'}).`);
      } else if (m.type === 'error') {
        this.lastError = m.message;
      }
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      const reattaching = this.tag !== undefined && !started;
      // 4000 + HTTP status: the server refused. A 404 while re-attaching means the terminal
      // ended while we were away: start a new one. Any other refusal (auth, capsule gone or
      // paused) will not change by retrying.
      if (ev.code >= 4000 && ev.code < 5000) {
        if (reattaching && ev.code === 4404) {
          this.forget();
          this.lastError = undefined;
          this.open();
          return;
        }
        this.closed = true;
        this.events.state('failed', this.lastError ?? `The terminal was closed by the server (${ev.code}).`);
        return;
      }
      this.attempts++;
      const delay = Math.min(500 * 2 ** (this.attempts - 1), 8000);
      this.events.state('reconnecting', 'the connection was lost');
      this.retryTimer = setTimeout(() => this.open(), delay);
    };
  }

  private lastError: string | undefined;

  private forget(): void {
    this.tag = undefined;
    sessionStorage.removeItem(tagKey(this.capsuleId));
  }

  input(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'input', data: toBase64(text) }));
  }

  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    if (this.ws?.readyState === WebSocket.OPEN && this.tag) this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  /** For tests and the "reconnect" button: drop the socket as a network blip would. */
  drop(): void {
    this.ws?.close();
  }

  /** Leaves the page: the session stays alive in the capsule for a later re-attach. */
  dispose(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.ws?.close();
  }
}
