import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorMessage } from '../format.js';
import { VERIFY_SNIPPET } from '../verify-snippet.js';
import { Alert } from './field.js';

export function SecretPanel({ webhookId }: { webhookId: string }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  const reveal = async () => {
    setError(null);
    try {
      setSecret((await api.get<{ secret: string }>(`/api/v1/webhooks/${webhookId}/secret`)).secret);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  const copy = async () => {
    if (secret === null) return;
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setError('The browser did not allow copying; select the secret and copy it by hand.');
    }
  };

  return (
    <section class="card" aria-labelledby="secret-title">
      <h2 id="secret-title">Signing secret</h2>
      <p class="hint">
        Every request carries webhook-id, webhook-timestamp and webhook-signature headers (Standard
        Webhooks). The receiver recomputes the signature with this secret and drops requests that do
        not match.
      </p>
      {error && <Alert>{error}</Alert>}
      <div class="secret-row">
        <code class="secret" data-testid="secret">
          {secret ?? 'whsec_••••••••••••••••••••••••'}
        </code>
        {secret === null ? (
          <button type="button" class="button" onClick={() => void reveal()}>
            Reveal secret
          </button>
        ) : (
          <>
            <button type="button" class="button" onClick={() => void copy()}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" class="button button-quiet" onClick={() => setSecret(null)}>
              Hide
            </button>
          </>
        )}
      </div>
      <span class="visually-hidden" role="status">
        {copied ? 'Secret copied to the clipboard' : ''}
      </span>
      <details class="snippet">
        <summary>How to verify a request (Node.js)</summary>
        <pre tabIndex={0} aria-label="Verification code">
          <code>{VERIFY_SNIPPET}</code>
        </pre>
      </details>
    </section>
  );
}
