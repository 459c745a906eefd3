import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, startService, type TestService } from './helpers/service.js';

describe('report life cycle', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  it('delivers the four events signed and with the original payloads', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', {
      name: 'Quality system',
      url: receiver.url,
      event_types: ['submission', 'approval', 'rejection', 'completion'],
      headers: { Authorization: 'Bearer receiver-token' },
    });
    assert.equal(created.status, 201);
    const secret = created.body.secret as string;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);

    const engineer = await svc.userClient('Engineer', 'engineer@example.test');
    const approver = await svc.userClient('Approver', 'approver@example.test');
    const report = await engineer.post('/api/v1/reports', {
      type: 'SAT',
      title: 'Pump station 4',
      reference: 'SAT-2026-0042',
      client: 'Northwind Water',
    });
    assert.equal(report.status, 201);
    const id = report.body.id as string;

    assert.equal((await engineer.post(`/api/v1/reports/${id}/submit`)).status, 200);
    assert.equal((await approver.post(`/api/v1/reports/${id}/reject`, { reason: 'Torque values missing.' })).status, 200);
    assert.equal((await engineer.post(`/api/v1/reports/${id}/submit`)).status, 200);
    assert.equal((await approver.post(`/api/v1/reports/${id}/approve`)).status, 200);
    const approved = await svc.admin.post(`/api/v1/reports/${id}/approve`);
    assert.equal(approved.body.status, 'APPROVED');
    const completed = await approver.post(`/api/v1/reports/${id}/complete`);
    assert.equal(completed.body.status, 'COMPLETED');

    const requests = await receiver.waitFor(6);
    const verifier = new Webhook(secret);
    const payloads = requests.map((request) => {
      assert.equal(request.method, 'POST');
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.headers.authorization, 'Bearer receiver-token');
      assert.equal(request.headers['webhook-id'], JSON.parse(request.body).id);
      return verifier.verify(request.body, request.headers as Record<string, string>) as Record<string, any>;
    });
    payloads.sort((a, b) => (a.id < b.id ? -1 : 1));

    const base = {
      id,
      type: 'SAT',
      title: 'Pump station 4',
      reference: 'SAT-2026-0042',
      client: 'Northwind Water',
      submitted_by: 'engineer@example.test',
    };
    const [submitted, rejected, resubmitted, stage1, stage2, completion] = payloads;
    assert.deepEqual(Object.keys(submitted!), ['id', 'event', 'timestamp', 'report']);
    assert.equal(submitted!.event, 'submission');
    assert.deepEqual(submitted!.report, { ...base, status: 'PENDING' });
    assert.ok(!Number.isNaN(Date.parse(submitted!.timestamp)));

    assert.equal(rejected!.event, 'rejection');
    assert.deepEqual(rejected!.report, { ...base, status: 'REJECTED' });
    assert.deepEqual(rejected!.rejection, { stage: 1, rejector: 'approver@example.test', reason: 'Torque values missing.' });

    assert.equal(resubmitted!.event, 'submission');
    assert.equal(stage1!.event, 'approval');
    assert.deepEqual(stage1!.approval, { stage: 1, approver: 'approver@example.test' });
    assert.deepEqual(stage1!.report, { ...base, status: 'PENDING' });
    assert.deepEqual(stage2!.approval, { stage: 2, approver: ADMIN_EMAIL });
    assert.deepEqual(stage2!.report, { ...base, status: 'APPROVED' });

    assert.equal(completion!.event, 'completion');
    assert.deepEqual(completion!.report, { ...base, status: 'COMPLETED' });
    assert.ok(!Number.isNaN(Date.parse(completion!.completion_time)));
  });

  it('counts successes on the webhook and lists every delivery', async () => {
    // The receiver has every request; the results are written back just after.
    const webhook = await eventually(async () => {
      const list = await svc.admin.get('/api/v1/webhooks');
      return list.body.data[0].trigger_count === 6 ? list.body.data[0] : undefined;
    }, 5_000, 'trigger_count to reach 6');
    assert.ok(webhook.last_triggered);
    assert.deepEqual(webhook.headers, { Authorization: '********' });

    const deliveries = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/deliveries`);
    assert.equal(deliveries.status, 200);
    assert.equal(deliveries.body.data.length, 6);
    for (const delivery of deliveries.body.data) assert.equal(delivery.status, 'succeeded');

    const detail = await svc.admin.get(`/api/v1/deliveries/${deliveries.body.data[0].id}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.attempts.length, 1);
    assert.equal(detail.body.attempts[0].status_code, 204);
    assert.equal(detail.body.attempts[0].request_headers.Authorization, '********');
    assert.equal(detail.body.payload.event, 'completion');
  });

  it('records no event when a transition is invalid', async () => {
    const engineer = await svc.userClient('Engineer');
    const report = await engineer.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R', client: 'C' });
    const before = receiver.requests.length;
    const premature = await svc.admin.post(`/api/v1/reports/${report.body.id}/complete`);
    assert.equal(premature.status, 409);
    assert.equal(premature.body.code, 'invalid_transition');
    const unchanged = await engineer.get(`/api/v1/reports/${report.body.id}`);
    assert.equal(unchanged.body.status, 'DRAFT');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.requests.length, before);
  });
});
