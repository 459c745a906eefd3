import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient, submitNewReport } from './helpers/api.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const METRICS_TOKEN = 'metrics-token-for-tests';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return found?.value;
}

describe('metrics', () => {
  let svc: TestService;
  let ok: Receiver;
  let broken: Receiver;
  let hanging: Receiver;
  let scraper: ApiClient;

  before(async () => {
    svc = await startService({ METRICS_TOKEN });
    ok = await startReceiver();
    broken = await startReceiver(() => ({ status: 503 }));
    hanging = await startReceiver(() => ({ hang: true }));
    scraper = new ApiClient(svc.url, METRICS_TOKEN);
  });
  after(async () => {
    await svc.close();
    await Promise.all([ok.close(), broken.close(), hanging.close()]);
  });

  it('requires the metrics token', async () => {
    const anonymous = await new ApiClient(svc.url, undefined).get('/metrics');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await new ApiClient(svc.url, 'wrong-token').get('/metrics')).status, 401);
    assert.equal((await svc.admin.get('/metrics')).status, 401);

    const scraped = await scraper.get('/metrics');
    assert.equal(scraped.status, 200);
    assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = parseSamples(scraped.body as string);
    assert.ok(valueOf(samples, 'process_cpu_user_seconds_total') !== undefined);
    assert.ok(valueOf(samples, 'nodejs_heap_size_used_bytes') !== undefined);
    assert.equal(valueOf(samples, 'webhook_queue_depth', { status: 'pending' }), 0);
    assert.equal(valueOf(samples, 'webhook_queue_oldest_pending_age_seconds'), 0);
  });

  it('counts deliveries, attempts, retries, the queue and disabled endpoints', async () => {
    for (const receiver of [ok, broken, hanging]) {
      const created = await svc.admin.post('/api/v1/webhooks', {
        name: `Receiver ${receiver.port}`,
        url: receiver.url,
        event_types: ['submission'],
      });
      assert.equal(created.status, 201);
    }
    const disabled = await svc.admin.post('/api/v1/webhooks', {
      name: 'Paused',
      url: ok.url,
      event_types: ['approval'],
    });
    assert.equal(
      (await svc.admin.patch(`/api/v1/webhooks/${disabled.body.id}`, { is_active: false })).status,
      200,
    );

    assert.equal((await submitNewReport(svc.admin, 'Metrics')).status, 200);
    await ok.waitFor(1);
    await broken.waitFor(3);
    await hanging.waitFor(1);

    const samples = await eventually(
      async () => {
        const scraped = parseSamples((await scraper.get('/metrics')).body as string);
        const failed = valueOf(scraped, 'webhook_deliveries_total', {
          outcome: 'failed',
          event_type: 'submission',
        });
        // Counters move when an attempt ends, the queue gauges once its result is written.
        const inFlight = valueOf(scraped, 'webhook_queue_depth', { status: 'delivering' });
        return failed === 1 && inFlight === 1 ? scraped : undefined;
      },
      10_000,
      'the failed delivery to be counted and written',
    );

    const submission = { event_type: 'submission' };
    assert.equal(
      valueOf(samples, 'webhook_deliveries_total', { outcome: 'succeeded', ...submission }),
      1,
    );
    assert.equal(
      valueOf(samples, 'webhook_delivery_attempts_total', { result: 'success', ...submission }),
      1,
    );
    assert.equal(
      valueOf(samples, 'webhook_delivery_attempts_total', { result: 'failure', ...submission }),
      3,
    );
    assert.equal(valueOf(samples, 'webhook_delivery_retries_total', submission), 2);
    assert.equal(
      valueOf(samples, 'webhook_delivery_attempt_duration_seconds_count', { result: 'failure' }),
      3,
    );
    assert.equal(
      valueOf(samples, 'webhook_delivery_attempt_duration_seconds_bucket', {
        result: 'success',
        le: '+Inf',
      }),
      1,
    );

    assert.equal(valueOf(samples, 'webhook_queue_depth', { status: 'delivering' }), 1);
    assert.equal(valueOf(samples, 'webhook_queue_depth', { status: 'pending' }), 0);
    assert.ok((valueOf(samples, 'webhook_queue_oldest_pending_age_seconds') ?? 0) > 0);
    assert.equal(valueOf(samples, 'webhook_endpoints_disabled', { cause: 'manual' }), 1);
    assert.equal(valueOf(samples, 'webhook_endpoints_disabled', { cause: 'automatic' }), 0);

    // The broken webhook has failed every attempt; backdate that so auto-disable takes it.
    await svc.service.db
      .updateTable('webhooks')
      .set({ failing_since: 1 })
      .where('url', '=', broken.url)
      .execute();
    assert.equal((await svc.service.autoDisabler.run()).length, 1);
    const disabledNow = parseSamples((await scraper.get('/metrics')).body as string);
    assert.equal(valueOf(disabledNow, 'webhook_endpoints_disabled', { cause: 'automatic' }), 1);
    assert.equal(valueOf(disabledNow, 'webhook_endpoints_disabled', { cause: 'manual' }), 1);
  });
});
