/** Display helpers shared by the pages. */

export function formatTime(iso: string | null): string {
  if (iso === null) return 'Never';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatPercent(rate: number | null): string {
  if (rate === null) return '—';
  return `${Math.round(rate * 1000) / 10}%`;
}

/** Plain words for the failure kinds of the outbound client. */
const FAILURE_WORDS: Readonly<Record<string, string>> = {
  timeout: 'Timed out',
  connection_refused: 'Connection refused',
  connection_reset: 'Connection closed by the receiver',
  blocked: 'Blocked address',
  tls: 'TLS error',
  dns: 'Host name not found',
  http_status: 'Error status',
  network: 'Network error',
};

export function describeFailure(kind: string | null, statusCode: number | null): string {
  if (kind === null) return statusCode === null ? 'Succeeded' : `Succeeded (${statusCode})`;
  const words = FAILURE_WORDS[kind] ?? kind.replaceAll('_', ' ');
  return statusCode === null ? words : `${words} (${statusCode})`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
