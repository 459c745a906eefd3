import { FieldError } from './field.js';

/** One row of the custom header editor; `saved` rows hold a value the API no longer shows. */
export interface HeaderRow {
  readonly key: number;
  name: string;
  value: string;
  /** The header name as saved, for rows that came from the server. */
  readonly savedName: string | null;
}

interface HeaderEditorProps {
  readonly rows: HeaderRow[];
  readonly onChange: (rows: HeaderRow[]) => void;
  readonly errorOf: (name: string) => string | undefined;
  readonly error: string | undefined;
}

let nextKey = 1;

export function headerRow(name = '', value = '', savedName: string | null = null): HeaderRow {
  nextKey += 1;
  return { key: nextKey, name, value, savedName };
}

/**
 * Edits custom request headers. The value of a saved header is never sent back by the API,
 * so its field stays empty with a placeholder and is sent only when typed again.
 */
export function HeaderEditor({ rows, onChange, errorOf, error }: HeaderEditorProps) {
  const update = (key: number, change: Partial<HeaderRow>) =>
    onChange(rows.map((row) => (row.key === key ? { ...row, ...change } : row)));

  return (
    <fieldset class="fieldset" aria-describedby="headers-hint">
      <legend>Custom headers</legend>
      <p class="hint" id="headers-hint">
        Sent with every request, for example an Authorization header for the receiver. Saved values
        are hidden; type a new value to replace one.
      </p>
      {rows.map((row, index) => {
        const rowError = errorOf(row.name);
        return (
          <div class="header-row" key={row.key}>
            <div class="field">
              <label for={`header-name-${row.key}`}>Header {index + 1} name</label>
              <input
                id={`header-name-${row.key}`}
                value={row.name}
                autoComplete="off"
                aria-invalid={rowError ? 'true' : undefined}
                onInput={(event) =>
                  update(row.key, { name: (event.target as HTMLInputElement).value })
                }
              />
            </div>
            <div class="field">
              <label for={`header-value-${row.key}`}>Header {index + 1} value</label>
              <input
                id={`header-value-${row.key}`}
                type="password"
                value={row.value}
                autoComplete="off"
                placeholder={row.savedName !== null ? 'Hidden; leave empty to keep' : ''}
                aria-invalid={rowError ? 'true' : undefined}
                onInput={(event) =>
                  update(row.key, { value: (event.target as HTMLInputElement).value })
                }
              />
            </div>
            <button
              type="button"
              class="button button-quiet header-remove"
              aria-label={`Remove header ${index + 1}`}
              onClick={() => onChange(rows.filter((other) => other.key !== row.key))}
            >
              Remove
            </button>
            <div class="header-error">
              <FieldError id={`header-error-${row.key}`} message={rowError} />
            </div>
          </div>
        );
      })}
      <FieldError id="headers-error" message={error} />
      <button type="button" class="button" onClick={() => onChange([...rows, headerRow()])}>
        Add header
      </button>
    </fieldset>
  );
}

/**
 * The `headers` member of a PATCH body: new or retyped values are set, removed or renamed
 * saved headers are null, and untouched saved headers are left out so they keep their values.
 */
export function headersPatch(
  rows: readonly HeaderRow[],
  saved: readonly string[],
): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  const kept = new Set<string>();
  for (const row of rows) {
    const name = row.name.trim();
    if (name === '') continue;
    const unchangedSaved = row.savedName !== null && row.savedName === name && row.value === '';
    if (unchangedSaved) {
      kept.add(name.toLowerCase());
      continue;
    }
    patch[name] = row.value;
    kept.add(name.toLowerCase());
  }
  for (const name of saved) {
    if (!kept.has(name.toLowerCase())) patch[name] = null;
  }
  return patch;
}

/** The `headers` member of a create body. */
export function headersObject(rows: readonly HeaderRow[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const row of rows) {
    if (row.name.trim() !== '') headers[row.name.trim()] = row.value;
  }
  return headers;
}
