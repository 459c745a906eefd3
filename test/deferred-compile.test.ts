import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { describe, it } from 'node:test';
import {
  buildDeferredSerializer,
  deferredValidator,
  pendingSchemaCount,
  warmDeferredSchemas,
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
    const validate = deferredValidator('POST /x body', () => {
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

  it('warm-up compiles and reports failures', async () => {
    let compiles = 0;
    const good = deferredValidator('POST /good body', () => {
      compiles += 1;
      return new Ajv().compile(SCHEMA);
    });
    deferredValidator('POST /broken body', () => new Ajv().compile({ type: 'no-such-type' }));
    const failures: string[] = [];

    const compiled = await warmDeferredSchemas({ onError: (_error, label) => failures.push(label) });
    assert.equal(compiled, 1);
    assert.equal(compiles, 1);
    assert.deepEqual(failures, ['POST /broken body']);
    assert.equal(pendingSchemaCount(), 0);
    // The compiled validator is used as it is, not compiled again.
    assert.equal(good({ name: 'hook' }), true);
    assert.equal(compiles, 1);
  });

  it('warm-up stops when stopped', async () => {
    deferredValidator('POST /later body', () => new Ajv().compile(SCHEMA));
    const compiled = await warmDeferredSchemas({ onError: () => undefined, stopped: () => true });
    assert.equal(compiled, 0);
    assert.equal(pendingSchemaCount(), 1);
    await warmDeferredSchemas({ onError: () => undefined });
  });

  it('compiles the service schemas after start', async () => {
    const svc = await startService();
    try {
      const deadline = Date.now() + 10_000;
      while (pendingSchemaCount() > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(pendingSchemaCount(), 0);

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
