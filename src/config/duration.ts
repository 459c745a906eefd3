const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/**
 * Parses a duration such as `250ms`, `5s`, `30m`, `2h` or `5d` into milliseconds, or
 * returns undefined when the text is not a duration. A bare `0` is accepted. Any other
 * number needs a unit, because a bare `5` could mean milliseconds or seconds.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;

  const amount = Number(match[1]);
  const unit = match[2];
  if (unit === undefined) return amount === 0 ? 0 : undefined;
  return Math.round(amount * (UNIT_MS[unit] ?? 0));
}

/** Formats milliseconds with the largest unit that divides them exactly, e.g. `300000` as `5m`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
