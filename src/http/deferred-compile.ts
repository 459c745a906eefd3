import { setImmediate as nextTurn } from 'node:timers/promises';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler } from 'fastify';

/*
 * Fastify compiles every route's validators and response serializers when the server
 * becomes ready. For this service that took about 250 ms of a restart's first second, all
 * of it before the delivery worker could send anything. The functions here defer each
 * compilation to the schema's first use, and warmDeferredSchemas runs the rest after the
 * start, one per turn of the event loop, so deliveries and requests run in between.
 */

type ValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;

/** Compilations not yet run, each with the route part it serves, such as "POST /x body". */
const pending = new Map<() => void, string>();

/** Returns a validator that compiles on its first call and sets `errors` where Fastify reads them. */
export function deferredValidator(label: string, compile: () => ValidationResult): ValidationResult {
  let validate: ValidationResult | undefined;
  const ensure = (): ValidationResult => {
    if (validate === undefined) {
      // Removed first: a schema that fails to compile is tried again at its next use.
      pending.delete(ensure);
      validate = compile();
    }
    return validate;
  };
  pending.set(ensure, label);
  const deferred: ValidationResult = (data: unknown) => {
    const compiled = ensure();
    const result = compiled(data);
    // Fastify takes a failed validation's errors from the function it was given.
    deferred.errors = compiled.errors ?? null;
    return result;
  };
  return deferred;
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/** Builds serializers as Fastify's own factory does, each compiled at its route's first response. */
export const buildDeferredSerializer: SerializerFactory = (externalSchemas, options) => {
  const compileRoute = SerializerSelector()(externalSchemas, options);
  return (route) => {
    let serialize: ((doc: unknown) => string) | undefined;
    const ensure = (): ((doc: unknown) => string) => {
      if (serialize === undefined) {
        pending.delete(ensure);
        serialize = compileRoute(route);
      }
      return serialize;
    };
    pending.set(ensure, `${route.method} ${route.url} response ${route.httpStatus}`);
    return (doc: unknown) => ensure()(doc);
  };
};

/** Returns how many schemas wait for their first use. */
export function pendingSchemaCount(): number {
  return pending.size;
}

export interface WarmOptions {
  /** Receives a schema that failed to compile and the route part it serves. */
  readonly onError: (error: unknown, label: string) => void;
  /** Stops the warm-up when it returns true, e.g. once the server is closing. */
  readonly stopped?: () => boolean;
}

/**
 * Compiles every waiting schema, one per turn of the event loop, and resolves with how many
 * it compiled. A schema that fails goes to `onError` and is tried again at its first use.
 */
export async function warmDeferredSchemas({ onError, stopped = () => false }: WarmOptions): Promise<number> {
  let compiled = 0;
  for (const [compile, label] of [...pending]) {
    await nextTurn();
    if (stopped()) break;
    // A request may have compiled it during the wait.
    if (!pending.has(compile)) continue;
    try {
      compile();
      compiled += 1;
    } catch (error) {
      onError(error, label);
    }
  }
  return compiled;
}
