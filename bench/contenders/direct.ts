import path from 'node:path';
import { IpcClient, ROOT, spawnNode, waitForExit } from '../processes.js';
import { nextPrefix, sequenceKeys, type Contender, type OfferResult } from './contender.js';
import type { DirectCommand, DirectMode, DirectReply } from './direct-process.js';

export interface DirectOptions {
  readonly mode: DirectMode;
  readonly connections: number;
  readonly signing: boolean;
  readonly timeoutMs: number;
  readonly cpus: string | undefined;
}

/** B0 (raw undici loop) and B1 (naive fetch) in their own child process. */
export class DirectContender implements Contender {
  readonly id;
  readonly durable = false;
  readonly variant;
  #client: IpcClient<DirectCommand, DirectReply> | undefined;
  #release: Promise<DirectReply> | undefined;

  constructor(private readonly options: DirectOptions) {
    this.id = options.mode === 'undici' ? ('B0' as const) : ('B1' as const);
    const parts = options.mode === 'undici' ? [`connections=${options.connections}`] : ['no cap'];
    parts.push(options.signing ? 'signed' : 'unsigned');
    this.variant = parts.join(', ');
  }

  async start(urls: readonly string[]): Promise<void> {
    const script = path.join(ROOT, 'bench/contenders/direct-process.ts');
    const child = spawnNode(script, [], { cpus: this.options.cpus, ipc: true });
    this.#client = new IpcClient(child, `${this.id} process`);
    const { mode, connections, signing, timeoutMs } = this.options;
    await this.#client.request({ type: 'setup', mode, urls: [...urls], connections, signing, timeoutMs });
  }

  async preload(count: number, endpoints: readonly number[]): Promise<Set<string>> {
    const prefix = nextPrefix(this.id);
    await this.#ipc().request({ type: 'preload', prefix, count, endpoints: [...endpoints] });
    return sequenceKeys(prefix, count, endpoints);
  }

  async release(): Promise<void> {
    this.#release = this.#ipc().request({ type: 'release' });
  }

  async offer(
    rate: number,
    durationMs: number,
    endpoints: readonly number[],
    excluded: ReadonlySet<number> = new Set(),
  ): Promise<OfferResult> {
    await this.#release;
    const prefix = nextPrefix(this.id);
    const reply = await this.#ipc().request({
      type: 'offer',
      prefix,
      rate,
      durationMs,
      endpoints: [...endpoints],
      excluded: [...excluded],
    });
    const events = reply.events ?? 0;
    return { expected: sequenceKeys(prefix, events, endpoints), events, failures: reply.failures ?? 0 };
  }

  pids(): number[] {
    const pid = this.#client?.child.pid;
    return pid === undefined ? [] : [pid];
  }

  async stop(): Promise<void> {
    if (!this.#client) return;
    await this.#client.request({ type: 'close' }).catch(() => undefined);
    await waitForExit(this.#client.child, 3_000);
  }

  #ipc(): IpcClient<DirectCommand, DirectReply> {
    if (!this.#client) throw new Error(`${this.id} is not started; call start() first`);
    return this.#client;
  }
}
