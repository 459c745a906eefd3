/*
 * Writes the generated part of BENCHMARKS.md (between the results markers) and the SVG
 * charts in bench/charts/ from one results file. Run alone: `tsx bench/report.ts FILE`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cell } from './cells.js';
import { ROOT } from './processes.js';
import { summarize, type RunResult } from './summary.js';
import { barChart, lineChart, type Series } from './svg.js';

const PAGE = path.join(ROOT, 'BENCHMARKS.md');
const CHARTS = path.join(ROOT, 'bench/charts');
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';
const CONTENDERS = ['B0', 'B1', 'B2', 'L', 'P'];

interface ResultFile extends RunResult {
  readonly profile: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly pinning: Record<string, unknown>;
  readonly fingerprint: Record<string, unknown>;
  readonly notes: readonly string[];
  readonly redisPinning?: string;
}

const present = (result: ResultFile): string[] =>
  CONTENDERS.filter((id) => result.cells.some((cell) => cell.contender === id));

function main(result: ResultFile, id: string): Cell[] {
  return result.cells.filter((cell) => cell.contender === id && (id !== 'L' || cell.variant === 'as shipped'));
}

function writeCharts(result: ResultFile): string[] {
  fs.mkdirSync(CHARTS, { recursive: true });
  const ids = present(result);
  const summary = summarize(result);
  const charts: Array<[string, string]> = [];

  charts.push([
    'sustained.svg',
    barChart('Sustained deliveries/s (one endpoint, signed)', 'deliveries/s', ['sustained'], ids.map((id) => ({ name: id, values: [summary.sustained[id] ?? null] }))),
  ]);

  const rates = [...new Set(result.cells.filter((cell) => cell.workload === 'step').map((cell) => Number(cell.params.rate)))].sort((a, b) => a - b);
  const stepSeries = (pick: (cell: Cell) => number): Series[] =>
    ids.map((id) => ({
      name: id,
      values: rates.map((rate) => {
        const cell = main(result, id).find((c) => c.workload === 'step' && Number(c.params.rate) === rate);
        return cell ? pick(cell) : null;
      }),
    }));
  const offeredLine: Series = { name: 'offered', values: rates };
  charts.push([
    'steps-throughput.svg',
    lineChart('Step test: delivered vs offered', 'deliveries/s', rates.map(String), [...stepSeries((c) => c.deliveriesPerSecond), offeredLine]),
  ]);

  const backlogs = [...new Set(result.cells.filter((cell) => cell.workload === 'W1 backlog').map((cell) => Number(cell.params.backlog)))].sort((a, b) => a - b);
  charts.push([
    'backlog-drain.svg',
    barChart('Backlog drain rate, one endpoint', 'deliveries/s', backlogs.map(String), ids.map((id) => ({
      name: id,
      values: backlogs.map((n) => main(result, id).find((c) => c.workload === 'W1 backlog' && Number(c.params.backlog) === n)?.deliveriesPerSecond ?? null),
    }))),
  ]);
  charts.push(['steps-p99.svg', lineChart('Step test: p99 event-to-delivery latency', 'ms', rates.map(String), stepSeries((c) => Math.min(c.latencyMs.p99, 5_000)))]);

  const half = (id: string) => main(result, id).find((cell) => cell.workload === 'half load');
  charts.push([
    'latency-half-load.svg',
    barChart('Latency at half of L sustained rate', 'ms', ['p50', 'p90', 'p99'], ids.map((id) => {
      const lat = half(id)?.latencyMs;
      return { name: id, values: lat ? [lat.p50, lat.p90, lat.p99] : [null, null, null] };
    })),
  ]);

  const faults = [...new Set(result.cells.filter((cell) => cell.workload === 'W3 isolation').map((cell) => String(cell.params.fault)))];
  charts.push([
    'isolation.svg',
    barChart('Healthy endpoints while endpoint 0 is faulty', 'deliveries/s', faults, ids.map((id) => ({
      name: id,
      values: faults.map((fault) => main(result, id).find((c) => c.workload === 'W3 isolation' && c.params.fault === fault)?.deliveriesPerSecond ?? null),
    }))),
  ]);

  for (const [file, svg] of charts) fs.writeFileSync(path.join(CHARTS, file), svg);
  return charts.map(([file]) => file);
}

const fmt = (value: unknown): string => (value === null || value === undefined || Number.isNaN(value) ? '–' : String(value));

function cellTable(cells: readonly Cell[]): string[] {
  const lines = [
    '| contender | variant | workload | parameters | deliveries/s | p50 ms | p99 ms | CPU ms/delivery | peak RSS MiB | event-loop delay p99 ms | ledger (exp/dup/miss) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const cell of cells) {
    const params = Object.entries(cell.params).map(([k, v]) => `${k}=${v}`).join(' ');
    const ledger = `${cell.ledger.expected}/${cell.ledger.duplicates}/${cell.ledger.missing}${cell.void ? ' VOID' : ''}`;
    let passed = '';
    if (cell.extra.passed === true) passed = ' ✓';
    if (cell.extra.passed === false) passed = ' ✗';
    lines.push(
      `| ${cell.contender} | ${cell.variant} | ${cell.workload} | ${params}${passed} | ${cell.deliveriesPerSecond} | ${fmt(cell.latencyMs.p50)} | ${fmt(cell.latencyMs.p99)} | ${cell.cpuMsPerDelivery} | ${cell.peakRssMiB} | ${fmt(cell.extra.eventLoopDelayP99Ms)} | ${ledger} |`,
    );
  }
  return lines;
}

/** One row per contender with its main configuration's headline figures. */
function sideBySide(result: ResultFile): string[] {
  const summary = summarize(result);
  const lines = [
    '| contender | configuration | sustained deliveries/s | drain of the smallest backlog, deliveries/s | CPU ms per delivery (drain) | half load p50 / p99 ms | healthy throughput while one hangs / fault-free | peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const id of present(result)) {
    const cells = main(result, id);
    const drainCell = cells.filter((c) => c.workload === 'W1 backlog').sort((a, b) => Number(a.params.backlog) - Number(b.params.backlog))[0];
    const half = cells.find((c) => c.workload === 'half load');
    const isolation = (fault: string) => cells.find((c) => c.workload === 'W3 isolation' && c.params.fault === fault)?.deliveriesPerSecond;
    const free = isolation('none');
    const hang = isolation('hang');
    const hangRatio = free && hang !== undefined ? Math.round((hang / free) * 100) / 100 : undefined;
    const variant = cells.find((c) => c.workload === 'step')?.variant ?? cells[0]?.variant;
    const rss = Math.max(0, ...cells.map((c) => c.peakRssMiB));
    lines.push(
      `| ${id} | ${variant} | ${fmt(summary.sustained[id])} | ${fmt(drainCell?.deliveriesPerSecond)} | ${fmt(drainCell?.cpuMsPerDelivery)} | ${fmt(half?.latencyMs.p50)} / ${fmt(half?.latencyMs.p99)} | ${fmt(hangRatio)} | ${rss} |`,
    );
  }
  return lines;
}

function render(result: ResultFile, file: string, charts: readonly string[]): string {
  const summary = summarize(result);
  const fp = result.fingerprint;
  const lines = [
    START,
    `Run \`${path.relative(ROOT, file)}\` (${result.profile} profile, ${result.durationS} s, started ${result.startedAt}).`,
    '',
    `Machine: ${fp.cpu}, ${fp.cpus} cores, ${fp.memoryGiB} GiB, Linux ${fp.kernel}; Node ${fp.node}, undici ${fp.undici}, ` +
      `SQLite ${fp.sqlite} (better-sqlite3 ${fp.betterSqlite3}), Redis ${fp.redis}, BullMQ ${fp.bullmq}, ${fp.postgres}. ` +
      `Databases in ${fp.tmpDir} (${fp.tmpFileSystem}${fp.databaseOnTmpfs ? '' : ', not tmpfs'}). Load average at the end: ${(fp.loadAverage as number[]).join(', ')}.`,
    '',
    `Pinning: service side on CPU ${fmt(result.pinning.service)}, driver and receivers on CPU ${fmt(result.pinning.driver)}` +
      `${result.pinning.unpinned ? ' (unpinned pass)' : ''}; Redis restored to CPUs ${fmt(result.redisPinning)} after the run.`,
    ...result.notes.map((note) => `\n${note}`),
    '',
    '### Targets for the service on SQLite (L), ratios within this run',
    '',
    '| ratio | value | acceptable | goal | verdict | detail |',
    '|---|---|---|---|---|---|',
    ...summary.targets.map((row) => `| ${row.metric} | ${fmt(row.value)} | ${row.acceptable} | ${row.goal} | ${row.verdict} | ${row.detail} |`),
    '',
    `Sustained rates (highest passing step, 0 when even the first step failed): ${Object.entries(summary.sustained).map(([id, rate]) => `${id} ${rate}/s`).join(', ')}.`,
    '',
    '### Contenders side by side',
    '',
    ...sideBySide(result),
    '',
    '### Charts',
    '',
    ...charts.map((chart) => `![${chart}](bench/charts/${chart})`),
    '',
    '### Every cell',
    '',
    ...cellTable(result.cells),
    END,
  ];
  return lines.join('\n');
}

/** Raised for a results file whose figures must not become the recorded run. */
export class SmokeRunError extends Error {}

/** Rewrites the generated section of BENCHMARKS.md and the charts from a quick or full run's results file. */
export function writeReport(file: string): void {
  const result = JSON.parse(fs.readFileSync(file, 'utf8')) as ResultFile;
  // A smoke run only proves that the harness runs, so its figures never replace the recorded ones.
  if (result.profile === 'smoke') {
    throw new SmokeRunError(`${file} is the results file of a smoke run. Pass the file of a quick or full run instead.`);
  }
  const charts = writeCharts(result);
  const generated = render(result, file, charts);
  const page = fs.existsSync(PAGE) ? fs.readFileSync(PAGE, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`${PAGE} has no ${START} … ${END} markers; add them where the results belong`);
  fs.writeFileSync(PAGE, page.slice(0, start) + generated + page.slice(end + END.length));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/report.ts bench/results/<run>.json\n');
    process.exit(64);
  }
  try {
    writeReport(path.resolve(file));
  } catch (error) {
    if (!(error instanceof SmokeRunError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(64);
  }
  process.stdout.write(`rewrote the results section of ${path.relative(process.cwd(), PAGE)} and the charts in bench/charts/ from ${file}\n`);
}
