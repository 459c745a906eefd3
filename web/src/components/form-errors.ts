import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';

export interface FormErrors {
  /** Error messages by the API's field name, e.g. `url` or `headers.Authorization`. */
  readonly fields: Readonly<Record<string, string>>;
  /** An error that names no field. */
  readonly general: string | null;
  /** The message for a field, or for any field below it (`event_types` covers `event_types.0`). */
  readonly of: (field: string) => string | undefined;
  readonly show: (error: unknown) => void;
  readonly clear: () => void;
}

/** Keeps the API's validation errors next to the fields they name. */
export function useFormErrors(): FormErrors {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);

  return {
    fields,
    general,
    of: (field) =>
      fields[field] ??
      Object.entries(fields).find(
        ([name]) => name.startsWith(`${field}.`) && !name.startsWith('headers.'),
      )?.[1],
    show: (error) => {
      if (error instanceof ApiError && error.field !== undefined) {
        setFields({ [error.field]: error.message });
        setGeneral(null);
        return;
      }
      setFields({});
      setGeneral(error instanceof Error ? error.message : String(error));
    },
    clear: () => {
      setFields({});
      setGeneral(null);
    },
  };
}
