/** The error body of every route, for response schemas and the OpenAPI document. */
import Type from 'typebox';
import { API_ERROR_CODES } from '@wrenn/shared';

/** `{"error":{"code","reason","message"}}`: every field of shared `wireError` (a response schema drops undeclared fields). */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.Union(API_ERROR_CODES.map((c) => Type.Literal(c)), { description: "Wrenn's published error code" }),
    reason: Type.String({ description: 'The precise code (capsule_not_found, capsule_busy, ...)' }),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    capsule_ids: Type.Optional(Type.Array(Type.String(), { description: 'host_has_sandboxes: the capsules blocking the delete' })),
    sandbox_ids: Type.Optional(Type.Array(Type.String(), { description: 'host_has_sandboxes: the same ids, under the published name' })),
  }),
});
