import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, type Webhook } from '../api.js';
import { ConfirmDialog } from '../components/confirm.js';
import { DeliveriesTable } from '../components/deliveries-table.js';
import { Alert } from '../components/field.js';
import { LastOutcome } from '../components/outcome.js';
import { SecretPanel } from '../components/secret-panel.js';
import { TestPanel } from '../components/test-panel.js';
import { Toggle } from '../components/toggle.js';
import { errorMessage, formatPercent, formatTime } from '../format.js';

export function WebhookDetailPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id ?? '';
  const [webhook, setWebhook] = useState<Webhook | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [testsSent, setTestsSent] = useState(0);

  useEffect(() => {
    api
      .get<Webhook>(`/api/v1/webhooks/${id}`)
      .then(setWebhook)
      .catch((caught: unknown) => setError(errorMessage(caught)));
  }, [id]);

  const setActive = async (isActive: boolean) => {
    setError(null);
    try {
      setWebhook(await api.patch<Webhook>(`/api/v1/webhooks/${id}`, { is_active: isActive }));
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  const remove = async () => {
    setConfirming(false);
    try {
      await api.delete(`/api/v1/webhooks/${id}`);
      route('/webhooks/manage');
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  if (webhook === null)
    return error ? <Alert>{error}</Alert> : <p class="muted">Loading webhook…</p>;

  return (
    <section aria-labelledby="webhook-title" class="stack">
      <p class="breadcrumb">
        <a href="/webhooks/manage">Webhooks</a>
      </p>
      <div class="page-head">
        <div>
          <h1 id="webhook-title">{webhook.name}</h1>
          <p class="url">{webhook.url}</p>
        </div>
        <div class="actions">
          <Toggle
            checked={webhook.is_active}
            label={`${webhook.name} active`}
            onChange={(checked) => void setActive(checked)}
          />
          <a class="button" href={`/webhooks/manage/${id}/edit`}>
            Edit
          </a>
          <button type="button" class="button button-danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </div>
      </div>
      {error && <Alert>{error}</Alert>}
      <section class="card" aria-label="Summary">
        <dl class="facts facts-grid">
          <dt>Event types</dt>
          <dd>{webhook.event_types.join(', ')}</dd>
          <dt>Custom headers</dt>
          <dd>{Object.keys(webhook.headers).join(', ') || 'None'}</dd>
          <dt>Last triggered</dt>
          <dd>{formatTime(webhook.last_triggered)}</dd>
          <dt>Triggers</dt>
          <dd>{webhook.trigger_count}</dd>
          <dt>Success (24 h)</dt>
          <dd>
            {formatPercent(webhook.success_rate_24h)} of {webhook.attempts_24h} attempts
          </dd>
          <dt>Last attempt</dt>
          <dd>
            <LastOutcome attempt={webhook.last_attempt} />
          </dd>
        </dl>
      </section>
      <div class="two-columns">
        <TestPanel webhookId={id} onSent={() => setTestsSent((count) => count + 1)} />
        <SecretPanel webhookId={id} />
      </div>
      <DeliveriesTable webhookId={id} eventTypes={webhook.event_types} refreshKey={testsSent} />
      <ConfirmDialog
        open={confirming}
        title={`Delete ${webhook.name}?`}
        confirmLabel="Delete webhook"
        onConfirm={() => void remove()}
        onCancel={() => setConfirming(false)}
      >
        <p>
          The webhook, its deliveries and their attempts are removed. Events are no longer sent to{' '}
          <span class="url">{webhook.url}</span>. This cannot be undone.
        </p>
      </ConfirmDialog>
    </section>
  );
}
