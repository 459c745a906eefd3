import { useState } from 'preact/hooks';
import { api, type TestResult } from '../api.js';
import { describeFailure, errorMessage } from '../format.js';
import { Alert } from './field.js';

/** Sends the sample payload to the endpoint and shows what came back, in plain words. */
export function TestPanel({ webhookId, onSent }: { webhookId: string; onSent?: () => void }) {
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await api.post<TestResult>(`/api/v1/webhooks/${webhookId}/test`));
      onSent?.();
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="test-title">
      <div class="card-head">
        <h2 id="test-title">Test the endpoint</h2>
        <button type="button" class="button" onClick={() => void run()} disabled={busy}>
          {busy ? 'Sending…' : 'Send test event'}
        </button>
      </div>
      <p class="hint">
        Sends a signed example event now. It appears in the deliveries below as a test, and does
        not count toward the success rate.
      </p>
      {error && <Alert>{error}</Alert>}
      <div role="status" aria-live="polite">
        {result && (
          <div
            class={`test-result ${result.success ? 'test-ok' : 'test-failed'}`}
            data-testid="test-result"
          >
            <p class="strong">
              {result.success
                ? `Delivered: HTTP ${result.status_code ?? ''}`
                : `Failed: ${describeFailure(result.error_kind, result.status_code)}`}
            </p>
            <dl class="facts">
              <dt>Status</dt>
              <dd>{result.status_code ?? 'No response'}</dd>
              <dt>Latency</dt>
              <dd>{result.duration_ms} ms</dd>
              <dt>Event type</dt>
              <dd>{result.event_type}</dd>
              {result.error && (
                <>
                  <dt>Error</dt>
                  <dd>{result.error}</dd>
                </>
              )}
            </dl>
            <p class="small">
              <a href={`/webhooks/manage/${webhookId}/deliveries/${result.delivery_id}`}>
                Open the recorded attempt
              </a>
            </p>
            {result.response_excerpt && (
              <>
                <p class="label">Start of the response body</p>
                <pre class="excerpt">{result.response_excerpt}</pre>
              </>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
