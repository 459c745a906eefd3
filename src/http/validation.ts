import { Ajv, type ErrorObject } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { deferredValidator } from './deferred-compile.js';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsPlugin as unknown as { default?: AddFormats }).default ??
  addFormatsPlugin) as unknown as AddFormats;

function createAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    // Unknown fields are an error, never silently dropped.
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = createAjv(false);
const textAjv = createAjv(true);

/**
 * Bodies are validated strictly: a number is not a string, an unknown field is an error.
 * Query strings and path parameters arrive as text, so they are coerced to the declared type.
 */
export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, method, url, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return deferredValidator(`${method} ${url} ${httpPart}`, () => ajv.compile(schema));
};

/** Turns the first schema error into a field name and a sentence with the fix. */
export function describeSchemaError(
  error: ErrorObject,
  part: string,
): { field: string; message: string } {
  const path = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const params = error.params as Record<string, unknown>;
  const prefix = part === 'body' ? '' : `${part}.`;

  switch (error.keyword) {
    case 'required': {
      const field = joinPath(path, String(params.missingProperty));
      return { field: prefix + field, message: `${field} is required.` };
    }
    case 'additionalProperties': {
      const field = joinPath(path, String(params.additionalProperty));
      return { field: prefix + field, message: `${field} is not a known field; remove it.` };
    }
    case 'type':
      return { field: prefix + (path || part), message: `${path || part} must be of type ${String(params.type)}.` };
    default:
      return { field: prefix + (path || part), message: `${path || part} ${error.message ?? 'is invalid'}.` };
  }
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
