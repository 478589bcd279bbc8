/**
 * The dashboard's only way to the server: the REST API under /v1 (same origin) with the
 * session's JWT, and WebSocket URLs for the capsule streams. Errors become ApiError
 * carrying the server's human `message`, which the pages show next to what failed.
 */
import { session, clearSession } from './session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; reason?: string };
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    // not JSON (a proxy's page): fall back to the status line
  }
  const message = body?.error?.message ?? `${res.status} ${res.statusText || 'request failed'}`;
  return new ApiError(res.status, body?.error?.code ?? 'unknown', message);
}

export function authHeaders(): Record<string, string> {
  const s = session.get();
  return s ? { authorization: `Bearer ${s.token}` } : {};
}

/** A raw request: the caller reads the body (downloads). Throws ApiError on non-2xx. */
export async function request(method: string, path: string, init: { body?: unknown; form?: FormData; signal?: AbortSignal } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders() };
  let body: BodyInit | undefined;
  if (init.form) body = init.form; // the browser sets multipart/form-data with its boundary
  else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  let res: Response | undefined;
  // A GET that failed in the network (the browser saw a network change, say) is tried once
  // more at once; anything that changes state is not repeated behind the user's back.
  for (let attempt = 0; !res; attempt++) {
    try {
      res = await fetch(`/v1${path}`, { method, headers, body, signal: init.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      if (method !== 'GET' || attempt > 0) throw new ApiError(0, 'network', 'The server cannot be reached: check your connection.');
    }
  }
  if (!res.ok) {
    const e = await errorOf(res);
    // An ended session (expired, logged out elsewhere): back to the login page.
    if (res.status === 401 && !path.startsWith('/auth/')) clearSession();
    throw e;
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, { body });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Uploads a file as the raw body (streamed by the browser) with progress 0..1. */
export function uploadFile(capsuleId: string, path: string, file: Blob, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/capsules/${encodeURIComponent(capsuleId)}/files/stream/write?path=${encodeURIComponent(path)}`);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `${xhr.status} upload failed`;
      let code = 'unknown';
      try {
        const b = JSON.parse(xhr.responseText) as ErrorBody;
        message = b.error?.message ?? message;
        code = b.error?.code ?? code;
      } catch {
        // keep the status line
      }
      reject(new ApiError(xhr.status, code, message));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted: the server cannot be reached.'));
    xhr.send(file);
  });
}

/** ws(s)://host/v1/... for a capsule stream; the socket then authenticates with its first message. */
export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/v1${path}`;
}

export function wsAuthMessage(): string {
  return JSON.stringify({ type: 'auth', token: session.get()?.token ?? '' });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A list the server answers: Wrenn's contract answers bare arrays, our earlier servers an
 * object with the list under `key`; both are read, so the page works against either.
 */
export async function apiList<T>(path: string, key: string): Promise<T[]> {
  const r = await api<unknown>('GET', path);
  if (Array.isArray(r)) return r as T[];
  const v = r && typeof r === 'object' ? (r as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) ? (v as T[]) : [];
}
