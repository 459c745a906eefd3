import { Type } from 'typebox';

/** The body of every error response. */
export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'Stable machine-readable code, e.g. invalid_request.' }),
    message: Type.String({ description: 'What failed and how to fix it.' }),
    field: Type.Optional(Type.String({ description: 'The input field at fault, when there is one.' })),
  },
  { $id: 'ErrorBody' },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
} as const;

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
