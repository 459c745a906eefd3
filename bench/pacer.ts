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

/**
 * Paces calls to `send` like pace(), with at most `limit` of them in flight. An event that
 * comes due while `limit` calls are in flight waits as a count and is sent when one of
 * them settles. Resolves once every call has settled, with the number of calls.
 */
export async function paceWithLimit(
  ratePerSecond: number,
  durationMs: number,
  limit: number,
  send: (sequence: number) => Promise<void>,
): Promise<number> {
  let sent = 0;
  let waiting = 0;
  const inFlight = new Set<Promise<void>>();
  const ignore = (): void => undefined;

  const dispatch = (): void => {
    while (waiting > 0 && inFlight.size < limit) {
      waiting -= 1;
      const call: Promise<void> = send(sent++)
        .then(ignore, ignore)
        .finally(() => {
          inFlight.delete(call);
          dispatch();
        });
      inFlight.add(call);
    }
  };

  await pace(ratePerSecond, durationMs, () => {
    waiting += 1;
    dispatch();
  });
  while (inFlight.size > 0) await Promise.race(inFlight);
  return sent;
}
