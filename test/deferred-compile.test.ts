import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { describe, it } from 'node:test';
import {
  buildDeferredSerializer,
  compileDeferredSchemas,
  deferredValidator,
} from '../src/http/deferred-compile.js';
import { startService } from './helpers/service.js';

const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' } },
  required: ['name'],
  additionalProperties: false,
};

describe('schemas compiled on first use', () => {
  it('compiles a validator at first call', () => {
    let compiles = 0;
    const validate = deferredValidator(() => {
      compiles += 1;
      return new Ajv().compile(SCHEMA);
    });
    assert.equal(compiles, 0);

    assert.equal(validate({ colour: 'blue' }), false);
    assert.equal(compiles, 1);
    assert.equal(validate.errors?.[0]?.keyword, 'required');

    assert.equal(validate({ name: 'hook' }), true);
    assert.equal(validate.errors, null);
    assert.equal(compiles, 1);
  });

  it('serializes with the response schema', () => {
    const compile = buildDeferredSerializer({}, {});
    const serialize = compile({ schema: SCHEMA, method: 'GET', url: '/x', httpStatus: '200' });
    // fast-json-stringify writes only the declared properties.
    assert.equal(serialize({ name: 'hook', secret: 'not listed in the schema' }), '{"name":"hook"}');
  });

  it('compiles every waiting service schema', async () => {
    const svc = await startService();
    try {
      const health = await fetch(`${svc.url}/healthz`);
      assert.equal(health.status, 200);
      // Routes the request above did not reach are still waiting; each compiles without error.
      const compiled = compileDeferredSchemas();
      assert.ok(compiled > 20, `only ${compiled} schemas were waiting`);
      assert.equal(compileDeferredSchemas(), 0);

      const rejected = await fetch(`${svc.url}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'admin@example.test' }),
      });
      assert.equal(rejected.status, 400);
      assert.equal(((await rejected.json()) as { field?: string }).field, 'password');
    } finally {
      await svc.close();
    }
  });
});
