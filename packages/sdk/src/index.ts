/**
 * @wrenn/sdk: typed client for the Wrenn REST and WebSocket API.
 *
 * @example
 * import { Wrenn, WrennApiError } from '@wrenn/sdk';
 * const wrenn = new Wrenn({ baseUrl: 'http://127.0.0.1:8080', apiKey: 'wrn_...' });
 */
export { Wrenn, type WrennOptions } from './client.js';
export { capsulePort, capsulePortUrl, type CapsulePortTarget } from './proxy.js';
export { WrennApiError, isWrennApiError } from './errors.js';
export type { CallOptions, Credentials } from './http.js';
export type { FileData, FileDownload, TransferOptions } from './api/files.js';
export type { CreateBuildOptions } from './api/builds.js';
export { PtySession, type PtyOptions, type PtyEnd } from './ws/pty.js';
export { OutputStream, type ExecStreamOptions, type StreamEnd, type StreamListeners } from './ws/exec-stream.js';
export type * from './types.js';
