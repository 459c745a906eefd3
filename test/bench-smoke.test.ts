import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './helpers/service.js';

interface SmokeCell {
  contender: string;
  workload: string;
  ledger: { expected: number; delivered: number; missing: number; unexpected: number };
  void: boolean;
  extra: Record<string, unknown>;
}

/** Runs a TypeScript script of this repository with node and returns its exit code and output. */
async function runScript(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output };
}

/** Runs `bench/run.ts --smoke` into a temporary folder and returns its output and results. */
async function runSmoke(): Promise<{ code: number | null; output: string; file: string | undefined; cells: SmokeCell[] }> {
  const out = tempDir('webhook-bench-smoke-');
  const { code, output } = await runScript(['bench/run.ts', '--smoke', '--out', out]);
  const files = fs.readdirSync(out).filter((name) => name.endsWith('-smoke.json'));
  const file = files.length === 1 ? path.join(out, files[0]!) : undefined;
  const cells = file ? (JSON.parse(fs.readFileSync(file, 'utf8')).cells as SmokeCell[]) : [];
  return { code, output, file, cells };
}

describe('benchmark smoke run', () => {
  it('runs every workload and balances the service ledger', { timeout: 240_000 }, async () => {
    const { code, output, file, cells } = await runSmoke();
    assert.equal(code, 0, output);
    assert.ok(file, `no results file:\n${output}`);

    const workloads = new Set(cells.filter((cell) => cell.contender === 'L').map((cell) => cell.workload));
    for (const workload of ['W1 backlog', 'step', 'half load', 'W2 fan-out', 'W3 isolation', 'W4 crash']) {
      assert.ok(workloads.has(workload), `service cells lack ${workload}:\n${output}`);
    }
    for (const id of ['B0', 'B1']) assert.ok(cells.some((cell) => cell.contender === id), `no ${id} cell`);

    for (const cell of cells.filter((entry) => entry.contender === 'L')) {
      const detail = `${cell.workload}: ${JSON.stringify(cell.ledger)}\n${output}`;
      assert.ok(cell.ledger.expected > 0, `expected nothing in ${detail}`);
      assert.equal(cell.ledger.missing, 0, `lost deliveries in ${detail}`);
      assert.equal(cell.void, false, `void cell ${detail}`);
      assert.equal(typeof cell.extra.socketsOpenAtStart, 'number', `no socket count at the start of ${detail}`);
    }
  });

  it('keeps a smoke run out of the report', async () => {
    // report.ts reads the profile before anything else, so a file with the profile and no cells suffices.
    const file = path.join(tempDir('webhook-bench-report-'), 'run-smoke.json');
    fs.writeFileSync(file, JSON.stringify({ profile: 'smoke', cells: [] }));
    const page = path.resolve(import.meta.dirname, '..', 'BENCHMARKS.md');
    const before = fs.readFileSync(page, 'utf8');

    const { code, output } = await runScript(['bench/report.ts', file]);
    assert.equal(code, 64, output);
    assert.match(output, /results file of a smoke run/);
    assert.equal(fs.readFileSync(page, 'utf8'), before, 'BENCHMARKS.md changed');
  });

  it('measures every floor cell', { timeout: 240_000 }, async () => {
    const { code, output } = await runScript(['bench/floor.ts', '--smoke']);
    assert.equal(code, 0, output);

    const cells = [
      'bare node:http, GET',
      'bare Fastify, GET',
      'B0 raw undici send, signed',
      'service GET /healthz',
      'service report action, API only',
      'service report action and its delivery',
    ];
    for (const cell of cells) {
      const line = output.split('\n').find((entry) => entry.startsWith(`${cell} at `));
      assert.ok(line, `no line for ${cell}:\n${output}`);
      const median = Number(/\(median (\d+)\)/.exec(line)?.[1]);
      assert.ok(median > 0, `no CPU figure for ${cell}: ${line}`);
    }
    assert.match(output, /Budget per event for L \/ B0/);
  });
});
