import { useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, type Attempt, type DeliveryDetail, type Webhook } from '../api.js';
import { Alert } from '../components/field.js';
import { StatusBadge } from '../components/outcome.js';
import { describeFailure, errorMessage, formatTime } from '../format.js';

/** One delivery: its payload, every attempt, and a button to send it again. */
export function DeliveryPage() {
  const { params } = useRoute();
  const webhookId = params.id ?? '';
  const deliveryId = params.deliveryId ?? '';
  const [delivery, setDelivery] = useState<DeliveryDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [webhookName, setWebhookName] = useState('Webhook');

  useEffect(() => {
    api
      .get<Webhook>(`/api/v1/webhooks/${webhookId}`)
      .then((webhook) => setWebhookName(webhook.name))
      // The breadcrumb keeps its generic label when the name cannot be loaded.
      .catch(() => undefined);
  }, [webhookId]);

  useEffect(() => {
    api
      .get<DeliveryDetail>(`/api/v1/deliveries/${deliveryId}`)
      .then(setDelivery)
      .catch((caught: unknown) => setError(errorMessage(caught)));
  }, [deliveryId, reload]);

  const redeliver = async () => {
    setError(null);
    try {
      await api.post(`/api/v1/deliveries/${deliveryId}/redeliver`);
      setNotice('Queued to be sent again; refresh to see the new attempt.');
      setReload((n) => n + 1);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  if (delivery === null)
    return error ? <Alert>{error}</Alert> : <p class="muted">Loading delivery…</p>;
  const finished = delivery.status === 'succeeded' || delivery.status === 'failed';

  return (
    <section aria-labelledby="delivery-title" class="stack">
      <p class="breadcrumb">
        <a href="/webhooks/manage">Webhooks</a> /{' '}
        <a href={`/webhooks/manage/${webhookId}`}>{webhookName}</a>
      </p>
      <div class="page-head">
        <div>
          <h1 id="delivery-title">
            {delivery.event_type} delivery <StatusBadge status={delivery.status} />
          </h1>
          <p class="muted small">
            Event {delivery.event_id} · created {formatTime(delivery.created_at)}
          </p>
        </div>
        <div class="actions">
          <button type="button" class="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
          <button
            type="button"
            class="button button-primary"
            disabled={!finished}
            onClick={() => void redeliver()}
          >
            Send again
          </button>
        </div>
      </div>
      {error && <Alert>{error}</Alert>}
      {notice && <Alert tone="success">{notice}</Alert>}
      <section class="card" aria-labelledby="payload-title">
        <h2 id="payload-title">Request body</h2>
        <pre class="excerpt">{JSON.stringify(delivery.payload, null, 2)}</pre>
      </section>
      <section aria-labelledby="attempts-title" class="stack">
        <h2 id="attempts-title">Attempts ({delivery.attempts.length})</h2>
        {delivery.attempts.length === 0 && <p class="muted">No attempt has been made yet.</p>}
        {delivery.attempts.map((attempt) => (
          <AttemptCard key={attempt.id} attempt={attempt} />
        ))}
      </section>
    </section>
  );
}

function AttemptCard({ attempt }: { attempt: Attempt }) {
  const succeeded = attempt.error_kind === null;
  return (
    <article class="card attempt" aria-label={`Attempt ${attempt.attempt_number}`}>
      <div class="card-head">
        <h3>
          Attempt {attempt.attempt_number} <span class="muted small">({attempt.trigger})</span>
        </h3>
        <span class={`badge badge-${succeeded ? 'good' : 'bad'}`}>
          {describeFailure(attempt.error_kind, attempt.status_code)}
        </span>
      </div>
      <dl class="facts facts-grid">
        <dt>Started</dt>
        <dd>{formatTime(attempt.started_at)}</dd>
        <dt>Response status</dt>
        <dd>{attempt.status_code ?? 'No response'}</dd>
        <dt>Latency</dt>
        <dd>{attempt.duration_ms} ms</dd>
        {attempt.error && (
          <>
            <dt>Error</dt>
            <dd>{attempt.error}</dd>
          </>
        )}
      </dl>
      <details>
        <summary>Request headers</summary>
        <dl class="facts facts-grid headers">
          {Object.entries(attempt.request_headers).map(([name, value]) => (
            <>
              <dt key={`${name}-name`}>{name}</dt>
              <dd key={`${name}-value`}>{value}</dd>
            </>
          ))}
        </dl>
      </details>
      {attempt.response_excerpt && (
        <>
          <p class="label">Response body (start)</p>
          <pre class="excerpt">{attempt.response_excerpt}</pre>
        </>
      )}
    </article>
  );
}
