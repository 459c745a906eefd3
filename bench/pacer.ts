/**
 * Calls `emit(sequence)` open-loop at `ratePerSecond` for `durationMs`, on a 1 ms timer that
 * catches up after a late tick, so a slow system under test cannot slow the offered rate.
 * Resolves with the number of calls.
 */
export async function pace(
  ratePerSecond: number,
  durationMs: number,
  emit: (sequence: number) => void,
): Promise<number> {
  const started = performance.now();
  let sent = 0;
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed * ratePerSecond) / 1000));
      while (sent < due) emit(sent++);
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  return sent;
}
