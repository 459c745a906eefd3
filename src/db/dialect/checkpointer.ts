import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread reads the WAL's frame counts. */
const CHECK_INTERVAL_MS = 50;
/** WAL frames not yet copied at which the thread runs a checkpoint, the same as SQLite's default. */
const THREAD_CHECKPOINT_FRAMES = 1_000;
/**
 * WAL pages after which a commit on the main connection checkpoints anyway. Under steady
 * writes the thread's copy never catches up with the last commit, and only a complete
 * checkpoint lets the next transaction write the WAL from its beginning again.
 */
export const BACKSTOP_CHECKPOINT_PAGES = 4_000;
/**
 * The thread's nice value, the lowest priority. On a core that the event loop shares, the
 * thread then copies mostly while the loop waits for I/O.
 * NOTE: while the loop keeps its core fully busy the thread falls behind, and the WAL file
 * stayed near 33 MB in a 40 s test of that case.
 */
const THREAD_PRIORITY = 19;
/** The main connection's own threshold when no thread runs, SQLite's default. */
export const DEFAULT_CHECKPOINT_PAGES = 1_000;
/** Bytes the WAL file is cut back to when it starts over, after a burst made it longer. */
export const WAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;
/**
 * The first SQLite release that fixes the WAL-reset race, a corruption that needs two
 * connections writing or checkpointing one file at once, as the thread and the main
 * connection do. The fix's backports (3.44.6, 3.50.7) are treated as unsafe too.
 */
const FIRST_SAFE_VERSION = [3, 51, 3] as const;

// Runs in the thread as CommonJS. On Linux, /proc/thread-self gives the thread's id, and
// setpriority() on a thread id changes that thread alone. NOOP only reads the WAL's
// counters. A PASSIVE checkpoint takes no lock that a writer waits for: it copies what was
// committed before it started. An error ends the thread, so the main connection runs
// checkpoints again.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  const threadId = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(threadId, workerData.priority);
} catch {
  // Without /proc/thread-self (outside Linux) the thread keeps the process's priority.
}
const Database = require(workerData.driverPath);
const database = new Database(workerData.file, { fileMustExist: true });
database.pragma('busy_timeout = 0');
let timer;
function check() {
  const [counters] = database.pragma('wal_checkpoint(NOOP)');
  if (counters.log - counters.checkpointed >= workerData.frames) database.pragma('wal_checkpoint(PASSIVE)');
  timer = setTimeout(check, workerData.intervalMs);
}
timer = setTimeout(check, workerData.intervalMs);
parentPort.on('message', () => {
  clearTimeout(timer);
  database.close();
  parentPort.close();
});
`;

/**
 * Copies the WAL into the database file from a worker thread with its own connection.
 *
 * Left to itself, SQLite runs this copy inside the COMMIT that takes the WAL past 1,000
 * pages, and in WAL mode with synchronous=NORMAL that copy syncs both files. In a probe at
 * 1,000 to 3,000 events/s, one commit in about 20 did so and took 6.7 ms on average, during
 * which the event loop ran no request and no delivery. In the thread the syncs no longer
 * hold up the loop, which matters most when both share one core.
 */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #stopped = false;

  private constructor(file: string, onFailure: (error: unknown) => void) {
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        file,
        driverPath,
        intervalMs: CHECK_INTERVAL_MS,
        frames: THREAD_CHECKPOINT_FRAMES,
        priority: THREAD_PRIORITY,
      },
    });
    this.#worker.unref();

    let error: unknown;
    this.#worker.once('error', (cause) => {
      error = cause;
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        if (!this.#stopped) onFailure(error);
        this.#stopped = true;
        resolve();
      });
    });
  }

  /** True when `version` (sqlite_version()) has the fix the thread depends on. */
  static supports(version: string): boolean {
    const parts = version.split('.').map(Number);
    for (const [index, minimum] of FIRST_SAFE_VERSION.entries()) {
      const part = parts[index] ?? 0;
      if (part !== minimum) return part > minimum;
    }
    return true;
  }

  /**
   * Starts the thread for a database file. `onFailure` runs with the thread's error when
   * the thread stops on its own, so the caller can checkpoint on the main connection again.
   */
  static start(file: string, onFailure: (error: unknown) => void): WalCheckpointer {
    return new WalCheckpointer(file, onFailure);
  }

  /** True while the thread runs. */
  get running(): boolean {
    return !this.#stopped;
  }

  /** Stops the thread and closes its connection; the main connection must close after this. */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      // An unreferenced thread would let the process end before the connection closes.
      this.#worker.ref();
      this.#worker.postMessage('stop');
    }
    await this.#exited;
  }
}
