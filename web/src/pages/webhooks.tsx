import { useEffect, useState } from 'preact/hooks';
import { api, type Webhook } from '../api.js';
import { Alert } from '../components/field.js';
import { LastOutcome } from '../components/outcome.js';
import { Toggle } from '../components/toggle.js';
import { errorMessage, formatPercent, formatTime } from '../format.js';

/** The webhook manager: every webhook with its activity, and a switch to pause it. */
export function WebhookListPage() {
  const [webhooks, setWebhooks] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<{ data: Webhook[] }>('/api/v1/webhooks')
      .then((list) => setWebhooks(list.data))
      .catch((caught: unknown) => setError(errorMessage(caught)));
  }, []);

  const setActive = async (webhook: Webhook, isActive: boolean) => {
    setError(null);
    try {
      const updated = await api.patch<Webhook>(`/api/v1/webhooks/${webhook.id}`, {
        is_active: isActive,
      });
      setWebhooks((list) => list?.map((item) => (item.id === updated.id ? updated : item)) ?? null);
    } catch (caught) {
      setError(`Could not change ${webhook.name}: ${errorMessage(caught)}`);
    }
  };

  return (
    <section aria-labelledby="webhooks-title">
      <div class="page-head">
        <h1 id="webhooks-title">Webhooks</h1>
        {webhooks !== null && webhooks.length > 0 && (
          <a class="button button-primary" href="/webhooks/manage/new">
            New webhook
          </a>
        )}
      </div>
      {error && <Alert>{error}</Alert>}
      {webhooks === null && !error && <p class="muted">Loading webhooks…</p>}
      {webhooks !== null && webhooks.length === 0 && <EmptyState />}
      {webhooks !== null && webhooks.length > 0 && (
        <div class="table-wrap">
          <table class="table responsive">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Event types</th>
                <th scope="col">Active</th>
                <th scope="col">Last triggered</th>
                <th scope="col" class="num">
                  Triggers
                </th>
                <th scope="col" class="num">
                  Success (24 h)
                </th>
                <th scope="col">Last attempt</th>
              </tr>
            </thead>
            <tbody>
              {webhooks.map((webhook) => (
                <tr key={webhook.id}>
                  <td data-label="Name">
                    <a class="strong" href={`/webhooks/manage/${webhook.id}`}>
                      {webhook.name}
                    </a>
                    <div class="url" title={webhook.url}>
                      {webhook.url}
                    </div>
                  </td>
                  <td data-label="Event types">
                    <ul class="chips">
                      {webhook.event_types.map((type) => (
                        <li key={type} class="chip">
                          {type}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td data-label="Active">
                    <Toggle
                      checked={webhook.is_active}
                      label={`${webhook.name} active`}
                      onChange={(checked) => void setActive(webhook, checked)}
                    />
                  </td>
                  <td data-label="Last triggered">{formatTime(webhook.last_triggered)}</td>
                  <td data-label="Triggers" class="num">
                    {webhook.trigger_count}
                  </td>
                  <td data-label="Success (24 h)" class="num">
                    {formatPercent(webhook.success_rate_24h)}
                    {webhook.attempts_24h > 0 && (
                      <span class="muted small"> of {webhook.attempts_24h}</span>
                    )}
                  </td>
                  <td data-label="Last attempt">
                    <LastOutcome attempt={webhook.last_attempt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function EmptyState() {
  return (
    <div class="card empty">
      <h2>No webhooks yet</h2>
      <p>
        A webhook sends an HTTP POST to a URL you choose whenever a report is submitted, approved,
        rejected or completed. Each request is signed, so the receiver can check that it came from
        this service, and failed deliveries are retried on a schedule.
      </p>
      <a class="button button-primary" href="/webhooks/manage/new">
        Create your first webhook
      </a>
    </div>
  );
}
