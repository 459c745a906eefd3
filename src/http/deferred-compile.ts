import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler } from 'fastify';

/*
 * Fastify compiles every route's validators and response serializers when the server
 * becomes ready. For this service that took about 250 ms of a restart's first second, all
 * of it before the delivery worker could send anything. The functions here compile each
 * schema on its first use instead, so a route never called is never compiled.
 */

type ValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;

/** Compilations not yet run, so that compileDeferredSchemas can run them all. */
const pending = new Set<() => void>();

/** Returns a validator that compiles on its first call and sets `errors` where Fastify reads them. */
export function deferredValidator(compile: () => ValidationResult): ValidationResult {
  let validate: ValidationResult | undefined;
  const ensure = (): ValidationResult => {
    if (validate === undefined) {
      pending.delete(ensure);
      validate = compile();
    }
    return validate;
  };
  pending.add(ensure);
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
    pending.add(ensure);
    return (doc: unknown) => ensure()(doc);
  };
};

/**
 * Compiles every schema still waiting for its first use and returns how many there were.
 * A schema that does not compile throws here, as it would have when the server started.
 */
export function compileDeferredSchemas(): number {
  const waiting = [...pending];
  for (const compile of waiting) compile();
  return waiting.length;
}
