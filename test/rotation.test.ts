import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { startReceiver, type ReceivedRequest, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

type Verifier = (request: ReceivedRequest) => unknown;

/** Verifiers of both official libraries for one secret. */
function verifiersFor(secret: string): Record<string, Verifier> {
  const standard = new StandardWebhook(secret);
  const svix = new SvixWebhook(secret);
  return {
    standardwebhooks: (request) => standard.verify(request.body, request.headers as Record<string, string>),
    svix: (request) => svix.verify(request.body, request.headers as Record<string, string>),
  };
}

describe('secret rotation', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService();
    await registerCounterType(svc.admin);
    receiver = await startReceiver();
  });
  after(async () => {
    await svc.close();
    await receiver.close();
  });

  it('signs with both secrets during the overlap', async () => {
    const webhook = await createWebhook(svc.admin, receiver.url);
    await publishCounters(svc.admin, 0, 1);
    const [beforeRotation] = await receiver.waitFor(1);
    for (const [library, verify] of Object.entries(verifiersFor(webhook.secret))) {
      assert.doesNotThrow(() => verify(beforeRotation!), `${library} rejects the request before rotation`);
    }

    const rotated = await svc.admin.post(`/api/v1/webhooks/${webhook.id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    const newSecret = rotated.body.secret as string;
    assert.notEqual(newSecret, webhook.secret);
    assert.ok(Date.parse(rotated.body.previous_secret_expires_at) > Date.now() + 23 * 3_600_000);

    await publishCounters(svc.admin, 1, 2);
    const [, during] = await receiver.waitFor(2);
    assert.equal(String(during!.headers['webhook-signature']).split(' ').length, 2);
    for (const secret of [webhook.secret, newSecret]) {
      for (const [library, verify] of Object.entries(verifiersFor(secret))) {
        const payload = verify(during!) as { data: { n: number } };
        assert.equal(payload.data.n, 1, `${library} returns the payload`);
      }
    }
  });

  it('drops the old secret when the overlap is zero', async () => {
    const webhook = await createWebhook(svc.admin, receiver.url);
    const start = receiver.requests.length;
    const rotated = await svc.admin.post(`/api/v1/webhooks/${webhook.id}/rotate-secret`, { overlap_seconds: 0 });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.previous_secret_expires_at, null);

    await publishCounters(svc.admin, 2, 3);
    const requests = await receiver.waitFor(start + 2);
    const mine = requests.slice(start).find((request) => {
      try {
        verifiersFor(rotated.body.secret).svix!(request);
        return true;
      } catch {
        return false;
      }
    });
    assert.ok(mine, 'no request verifies with the new secret');
    assert.equal(String(mine.headers['webhook-signature']).split(' ').length, 1);
    for (const [library, verify] of Object.entries(verifiersFor(webhook.secret))) {
      assert.throws(() => verify(mine), Error, `${library} accepts the replaced secret`);
    }
  });
});
