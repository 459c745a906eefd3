import { useEffect, useState } from 'preact/hooks';
import { api, type Delivery } from '../api.js';
import { errorMessage, formatTime } from '../format.js';
import { Alert } from './field.js';
import { StatusBadge } from './outcome.js';

const PAGE_SIZE = 20;
const STATUSES = ['pending', 'delivering', 'succeeded', 'failed'] as const;

interface Page {
  data: Delivery[];
  next_cursor: string | null;
}

/** A webhook's deliveries, newest first, filtered by status and event type, page by page. */
export function DeliveriesTable({
  webhookId,
  eventTypes,
  refreshKey = 0,
}: {
  webhookId: string;
  eventTypes: string[];
  /** Changing it reloads the current page, e.g. after a test call added a delivery. */
  refreshKey?: number;
}) {
  const [status, setStatus] = useState('');
  const [eventType, setEventType] = useState('');
  // Cursors of the pages before the current one; the last entry is the current page's cursor.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const cursor = cursors.at(-1);

  useEffect(() => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) query.set('status', status);
    if (eventType) query.set('event_type', eventType);
    if (cursor) query.set('before', cursor);
    setError(null);
    api
      .get<Page>(`/api/v1/webhooks/${webhookId}/deliveries?${query.toString()}`)
      .then(setPage)
      .catch((caught: unknown) => setError(errorMessage(caught)));
  }, [webhookId, status, eventType, cursor, reload, refreshKey]);

  const filter = (apply: () => void) => {
    apply();
    setCursors([undefined]);
  };

  return (
    <section class="card" aria-labelledby="deliveries-title">
      <div class="card-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <button type="button" class="button button-quiet" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <div class="filters">
        <div class="field">
          <label for="filter-status">Status</label>
          <select
            id="filter-status"
            value={status}
            onChange={(e) => filter(() => setStatus((e.target as HTMLSelectElement).value))}
          >
            <option value="">All statuses</option>
            {STATUSES.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-event">Event type</label>
          <select
            id="filter-event"
            value={eventType}
            onChange={(e) => filter(() => setEventType((e.target as HTMLSelectElement).value))}
          >
            <option value="">All event types</option>
            {eventTypes.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error && <Alert>{error}</Alert>}
      {page !== null && page.data.length === 0 && (
        <p class="muted">
          No deliveries match. Deliveries appear here when a report event is sent to this webhook.
        </p>
      )}
      {page !== null && page.data.length > 0 && (
        <div class="table-wrap">
          <table class="table responsive">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event type</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last result</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((delivery) => (
                <tr key={delivery.id}>
                  <td data-label="Created">
                    <a href={`/webhooks/manage/${webhookId}/deliveries/${delivery.id}`}>
                      {formatTime(delivery.created_at)}
                    </a>
                  </td>
                  <td data-label="Event type">{delivery.event_type}</td>
                  <td data-label="Status">
                    <StatusBadge status={delivery.status} />
                  </td>
                  <td data-label="Attempts" class="num">
                    {delivery.attempt_count}
                  </td>
                  <td data-label="Last result">
                    {delivery.last_error ??
                      (delivery.last_status_code === null
                        ? '—'
                        : `HTTP ${delivery.last_status_code}`)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Deliveries pages">
        <button
          type="button"
          class="button"
          disabled={cursors.length <= 1}
          onClick={() => setCursors((list) => list.slice(0, -1))}
        >
          Newer
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button
          type="button"
          class="button"
          disabled={!page?.next_cursor}
          onClick={() =>
            page?.next_cursor && setCursors((list) => [...list, page.next_cursor ?? undefined])
          }
        >
          Older
        </button>
      </nav>
    </section>
  );
}
