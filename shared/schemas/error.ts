/** The one error envelope of every API response with status >= 400 (DESIGN.md §6). */
import { Type, type Static } from 'typebox';

export const ErrorEnvelopeSchema = Type.Object({
  error: Type.Object({
    status: Type.Integer(),
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Unknown())),
  }),
  request_id: Type.String(),
});
export type ErrorEnvelope = Static<typeof ErrorEnvelopeSchema>;
