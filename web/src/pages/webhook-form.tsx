import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, type EventType, type Webhook } from '../api.js';
import { Alert, FieldError, TextField } from '../components/field.js';
import { useFormErrors } from '../components/form-errors.js';
import {
  HeaderEditor,
  headerRow,
  headersObject,
  headersPatch,
  type HeaderRow,
} from '../components/header-editor.js';
import { errorMessage } from '../format.js';

/** Creates a webhook, or edits one when the path has an id. */
export function WebhookFormPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id;
  const [eventTypes, setEventTypes] = useState<EventType[]>([]);
  const [existing, setExisting] = useState<Webhook | null>(null);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [selected, setSelected] = useState<string[]>([]);
  const [isActive, setIsActive] = useState(true);
  const [headers, setHeaders] = useState<HeaderRow[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();

  useEffect(() => {
    api
      .get<{ data: EventType[] }>('/api/v1/event-types')
      .then((catalog) => setEventTypes(catalog.data))
      .catch((caught: unknown) => setLoadError(errorMessage(caught)));
    if (id === undefined) return;
    api
      .get<Webhook>(`/api/v1/webhooks/${id}`)
      .then((webhook) => {
        setExisting(webhook);
        setName(webhook.name);
        setUrl(webhook.url);
        setSelected(webhook.event_types);
        setIsActive(webhook.is_active);
        setHeaders(Object.keys(webhook.headers).map((header) => headerRow(header, '', header)));
      })
      .catch((caught: unknown) => setLoadError(errorMessage(caught)));
  }, [id]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    errors.clear();
    try {
      const saved =
        existing === null
          ? await api.post<Webhook>('/api/v1/webhooks', {
              name,
              url,
              event_types: selected,
              headers: headersObject(headers),
              is_active: isActive,
            })
          : await api.patch<Webhook>(`/api/v1/webhooks/${existing.id}`, {
              name,
              url,
              event_types: selected,
              headers: headersPatch(headers, Object.keys(existing.headers)),
              is_active: isActive,
            });
      route(`/webhooks/manage/${saved.id}`);
    } catch (caught) {
      errors.show(caught);
      setBusy(false);
    }
  };

  if (loadError) return <Alert>{loadError}</Alert>;
  if (id !== undefined && existing === null) return <p class="muted">Loading webhook…</p>;
  const title = existing === null ? 'New webhook' : `Edit ${existing.name}`;
  const submitLabel = existing === null ? 'Create webhook' : 'Save changes';
  const headerError = (header: string) =>
    Object.entries(errors.fields).find(
      ([field]) => field.toLowerCase() === `headers.${header.trim().toLowerCase()}`,
    )?.[1];

  return (
    <section aria-labelledby="form-title" class="narrow">
      <p class="breadcrumb">
        <a href="/webhooks/manage">Webhooks</a>
        {existing && (
          <>
            {' / '}
            <a href={`/webhooks/manage/${existing.id}`}>{existing.name}</a>
          </>
        )}
      </p>
      <h1 id="form-title">{title}</h1>
      <form class="card form" onSubmit={submit} noValidate>
        {errors.general && <Alert>{errors.general}</Alert>}
        <TextField
          id="name"
          label="Name"
          value={name}
          onInput={setName}
          error={errors.of('name')}
          required
        />
        <TextField
          id="url"
          label="Endpoint URL"
          type="url"
          value={url}
          onInput={setUrl}
          error={errors.of('url')}
          hint="An http or https URL that accepts POST requests."
          placeholder="https://example.com/hooks/reports"
          required
        />
        <EventTypeChecks
          eventTypes={eventTypes}
          selected={selected}
          onChange={setSelected}
          error={errors.of('event_types')}
        />
        <HeaderEditor
          rows={headers}
          onChange={setHeaders}
          errorOf={headerError}
          error={errors.fields.headers}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={isActive}
            onChange={(event) => setIsActive((event.target as HTMLInputElement).checked)}
          />
          <span>Active: deliver events to this endpoint</span>
        </label>
        <div class="actions">
          <a
            class="button"
            href={existing ? `/webhooks/manage/${existing.id}` : '/webhooks/manage'}
          >
            Cancel
          </a>
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? 'Saving…' : submitLabel}
          </button>
        </div>
      </form>
    </section>
  );
}

interface EventTypeChecksProps {
  readonly eventTypes: readonly EventType[];
  readonly selected: readonly string[];
  readonly onChange: (selected: string[]) => void;
  readonly error: string | undefined;
}

/** Renders the event catalog as checkboxes, each with its description. */
function EventTypeChecks({ eventTypes, selected, onChange, error }: EventTypeChecksProps) {
  const toggle = (type: string, checked: boolean) =>
    onChange(checked ? [...selected, type] : selected.filter((item) => item !== type));

  return (
    <fieldset class="fieldset" aria-describedby="event_types-error">
      <legend>Event types</legend>
      <div class="checks">
        {eventTypes.map((type) => (
          <label class="check" key={type.name}>
            <input
              type="checkbox"
              name="event_types"
              value={type.name}
              checked={selected.includes(type.name)}
              onChange={(event) => toggle(type.name, (event.target as HTMLInputElement).checked)}
            />
            <span>
              <span class="strong">{type.name}</span>
              <span class="hint block">{type.description}</span>
            </span>
          </label>
        ))}
      </div>
      <FieldError id="event_types-error" message={error} />
    </fieldset>
  );
}
