import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A service started as its own Node.js process from src/main.ts. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** The address it listens on, from its `listening` log line. */
  readonly url: string;
  /** Fields of the first log line with the message, e.g. `delivery worker started`. */
  logLine(message: string): Record<string, unknown> | undefined;
  /** Sends the signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `node --import tsx src/main.ts` with exactly `env` (plus PATH), writes its log to
 * `logFile`, and waits until it listens.
 */
export async function spawnService(
  env: Record<string, string>,
  logFile: string,
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const logLine = (message: string): Record<string, unknown> | undefined => {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const fields = JSON.parse(line) as Record<string, unknown>;
      if (fields.msg === message) return fields;
    }
    return undefined;
  };

  const deadline = Date.now() + timeoutMs;
  let listening = logLine('listening');
  while (listening === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service process did not start; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    listening = logLine('listening');
  }

  return {
    child,
    logFile,
    url: String(listening.address),
    logLine,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
