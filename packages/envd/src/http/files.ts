// STUB: replaced by the /files work.
import type { HttpRouter } from './router.js';
export function registerFileRoutes(_router: HttpRouter): void {}
