import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { VERIFY_SNIPPET } from '../web/src/verify-snippet.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, type TestService } from './helpers/service.js';

type Verify = (secret: string, headers: Record<string, unknown>, body: string) => boolean;

describe('console verification snippet', () => {
  let svc: TestService;
  let receiver: Receiver;
  let verify: Verify;

  before(async () => {
    svc = await startService();
    receiver = await startReceiver();
    const file = path.join(tempDir('webhooks-snippet-'), 'verify.mjs');
    fs.writeFileSync(file, `${VERIFY_SNIPPET}\nexport { verifyWebhook };\n`);
    verify = ((await import(pathToFileURL(file).href)) as { verifyWebhook: Verify }).verifyWebhook;
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  it('accepts a real signed request', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', {
      name: 'Snippet',
      url: receiver.url,
      event_types: ['submission'],
    });
    assert.equal(created.status, 201);
    assert.equal((await svc.admin.post(`/api/v1/webhooks/${created.body.id}/test`)).status, 200);
    const [request] = await receiver.waitFor(1);
    assert.ok(request);

    const secret = created.body.secret as string;
    assert.equal(verify(secret, request.headers, request.body), true);
    assert.equal(verify(secret, request.headers, `${request.body} `), false, 'changed body');
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.equal(verify(otherSecret, request.headers, request.body), false, 'other secret');
    const stale = { ...request.headers, 'webhook-timestamp': '1000000000' };
    assert.equal(verify(secret, stale, request.body), false, 'old timestamp');
  });
});
