import type { Logger } from '../observability/logger.js';

export interface PeriodicTask {
  readonly name: string;
  readonly intervalMs: number;
  run(): Promise<unknown>;
}

/**
 * Runs background tasks such as auto-disable and retention on their own intervals. A run
 * never overlaps the previous run of the same task, and a failed run is logged and retried
 * at the next interval.
 */
export class Housekeeping {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<string>();

  constructor(
    private readonly tasks: readonly PeriodicTask[],
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const task of this.tasks) {
      const timer = setInterval(() => void this.runNow(task), task.intervalMs);
      timer.unref();
      this.#timers.push(timer);
    }
    this.log.info({ tasks: this.tasks.map((task) => task.name) }, 'housekeeping started');
  }

  async runNow(task: PeriodicTask): Promise<void> {
    if (this.#running.has(task.name)) return;
    this.#running.add(task.name);
    try {
      await task.run();
    } catch (error) {
      this.log.error({ err: error, task: task.name }, 'housekeeping task failed; retrying at the next interval');
    } finally {
      this.#running.delete(task.name);
    }
  }

  stop(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
  }
}
