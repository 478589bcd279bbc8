/**
 * Marks the operations of the OpenAPI document that Wrenn's contract does not have with
 * `x-wrenn-extension: true` (and says so in their description), so a reader of /openapi.json
 * and /docs knows what a client written to the contract can rely on.
 */
import { isContractOperation } from './contract-operations.js';

type Doc = { paths?: Record<string, Record<string, Record<string, unknown>>> };

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

export function markExtensions<T>(doc: T): T {
  const paths = (doc as Doc).paths ?? {};
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method) || isContractOperation(method, path)) continue;
      op['x-wrenn-extension'] = true;
      const note = 'Extension: not part of Wrenn\'s API contract.';
      op.description = typeof op.description === 'string' && op.description ? `${note} ${op.description}` : note;
    }
  }
  return doc;
}
