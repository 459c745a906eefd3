import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU pinning of the run: the system under test and its infrastructure on one core, the
 * load driver with the receivers on the other. `undefined` runs unpinned.
 */
export interface Pinning {
  readonly service: string | undefined;
  readonly driver: string | undefined;
}

export function pinningFor(pinned: boolean): Pinning {
  if (!pinned || os.cpus().length < 2) return { service: undefined, driver: undefined };
  return { service: '0', driver: '1' };
}

export interface SpawnOptions {
  readonly cpus: string | undefined;
  readonly env?: Record<string, string>;
  readonly ipc?: boolean;
  readonly stdoutFile?: string;
  readonly nodeArgs?: readonly string[];
}

/** Starts `node [nodeArgs] script args`, under `taskset -c CPUS` when cpus is set. */
export function spawnNode(script: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const nodeArgs = [...(options.nodeArgs ?? [])];
  if (script.endsWith('.ts')) nodeArgs.push('--import', 'tsx');
  const command = [process.execPath, ...nodeArgs, script, ...args];
  const out = options.stdoutFile ? fs.openSync(options.stdoutFile, 'a') : 'ignore';
  const stdio: StdioOptions = ['ignore', out, options.stdoutFile ? out : 'inherit'];
  if (options.ipc) stdio.push('ipc');
  const [file, ...rest] = options.cpus ? ['taskset', '-c', options.cpus, ...command] : command;
  const child = spawn(file as string, rest, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio,
  });
  if (typeof out === 'number') fs.closeSync(out);
  return child;
}

/** Pins every thread of a running process, e.g. this driver or an already running Redis. */
export async function pinProcess(pid: number, cpus: string): Promise<boolean> {
  const child = spawn('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return code === 0;
}

/** Returns the CPU list a process may run on, as taskset prints it, or undefined when unreadable. */
export function allowedCpus(pid: number): string | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];
  } catch {
    return undefined;
  }
}

/** User plus system CPU time of a process in milliseconds, from /proc/PID/stat. */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Peak resident set size (VmHWM) of a process in MiB. */
export function peakRssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmHWM:\s*(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round((kib / 1024) * 10) / 10;
  } catch {
    return 0;
  }
}

/** Sends a command over a child's IPC channel and resolves with the matching reply. */
export class IpcClient<Command, Reply> {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.on('message', (message: { id: number; reply?: Reply; error?: string }) => {
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.reply as Reply);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) {
        waiter.reject(new Error(`${name} exited (code ${code}, signal ${signal}) before replying`));
      }
      this.#pending.clear();
    });
  }

  request(command: Command): Promise<Reply> {
    const id = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.send({ id, command });
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for a child to exit, killing it with SIGKILL after the timeout. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Serves the parent's IPC commands in a child process: each reply carries the command's id,
 * and the child exits when the parent goes away.
 */
export function serveCommands<Command>(run: (command: Command) => Promise<unknown>): void {
  process.on('message', (message: { id: number; command: Command }) => {
    run(message.command).then(
      (reply) => process.send?.({ id: message.id, reply }),
      (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Builds dist/main.js from this checkout with `npm run build:server`, printing its output. */
export function buildServer(): void {
  const build = spawnSync('npm', ['run', 'build:server'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build:server failed; fix the compile errors above and run again');
}
