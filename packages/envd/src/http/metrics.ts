// STUB: replaced by the /metrics work.
import type { HttpRouter } from './router.js';
export function registerMetricsRoute(_router: HttpRouter): void {}
