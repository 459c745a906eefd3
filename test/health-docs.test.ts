import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from './helpers/api.js';
import { startService, type TestService } from './helpers/service.js';

let svc: TestService;
let anonymous: ApiClient;

before(async () => {
  svc = await startService();
  anonymous = new ApiClient(svc.url, undefined);
});
after(async () => {
  await svc.close();
});

describe('API documentation', () => {
  it('lists every route that is not hidden', async () => {
    const document = await anonymous.get('/api/docs/openapi.json');
    assert.equal(document.status, 200);
    assert.equal(document.body.openapi, '3.1.0');
    const paths = document.body.paths as Record<string, Record<string, unknown>>;

    const visible = svc.service.routes.filter((route) => !route.hidden && route.method !== 'HEAD');
    assert.ok(
      visible.some((route) => route.url === '/api/v1/webhooks/:id' && route.method === 'PATCH'),
    );
    for (const route of visible) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      assert.ok(
        paths[path]?.[route.method.toLowerCase()],
        `${route.method} ${route.url} is in the document`,
      );
    }

    const hidden = ['/healthz', '/readyz', '/metrics', '/api/docs', '/api/docs/openapi.json'];
    for (const path of hidden) {
      assert.ok(
        svc.service.routes.some((route) => route.url === path && route.hidden),
        `${path} is registered`,
      );
      assert.equal(paths[path], undefined, `${path} stays out of the document`);
    }
  });

  it('serves the docs page with local assets only', async () => {
    const page = await anonymous.get('/api/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = page.body as string;

    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(
      (match) => match[1] as string,
    );
    assert.ok(references.some((reference) => reference.endsWith('swagger-ui-bundle.js')));
    for (const reference of references) {
      assert.doesNotMatch(reference, /^(https?:)?\/\//, `${reference} is served by the service`);
      const asset = await fetch(new URL(reference, `${svc.url}/api/docs/`));
      assert.equal(asset.status, 200, `${reference} loads`);
      await asset.arrayBuffer();
    }

    const initializer = await fetch(`${svc.url}/api/docs/static/swagger-initializer.js`);
    assert.equal(initializer.status, 200);
    assert.match(await initializer.text(), /validatorUrl: null/);
  });
});

// Runs last because it stops the delivery worker.
describe('health checks', () => {
  it('answers healthz and readyz without a token', async () => {
    const health = await anonymous.get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', role: 'all' });

    const ready = await anonymous.get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, {
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', worker: 'ok' },
    });
  });

  it('reports a pending migration as not ready', async () => {
    const { db } = svc.service;
    const applied = await db
      .selectFrom('kysely_migration' as any)
      .selectAll()
      .execute();
    await sql`DELETE FROM kysely_migration WHERE name = '001_initial'`.execute(db);
    try {
      const ready = await anonymous.get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'not_ready');
      assert.equal(ready.body.checks.migrations, 'failed: pending: 001_initial');
      assert.equal(ready.body.checks.database, 'ok');
    } finally {
      const row = applied.find((entry: any) => entry.name === '001_initial') as any;
      await sql`INSERT INTO kysely_migration (name, timestamp) VALUES (${row.name}, ${row.timestamp})`.execute(
        db,
      );
    }
    assert.equal((await anonymous.get('/readyz')).status, 200);
  });

  it('keeps the worker loop running without webhooks', async () => {
    const idle = await startService({ WEBHOOK_POLL_INTERVAL: '20ms' });
    try {
      assert.equal((await idle.admin.get('/api/v1/webhooks')).body.data.length, 0);
      const first = idle.service.worker.loopState.lastLoopAt;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(idle.service.worker.loopState.lastLoopAt > first, 'the delivery loop stopped polling');
    } finally {
      await idle.close();
    }
  });

  it('reports a stopped worker as not ready', async () => {
    await svc.service.worker.stop(0);
    const ready = await anonymous.get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.worker, 'failed: the delivery worker is not running');
    assert.equal((await anonymous.get('/healthz')).status, 200);
  });
});
