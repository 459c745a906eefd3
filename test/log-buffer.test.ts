import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOGGER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'observability', 'logger.ts');

/** Runs a process that logs `count` lines, then runs `ending`, and returns its logged lines. */
function linesOf(ending: string, count: number): { status: number | null; lines: string[] } {
  const script = [
    `import { createLogging } from ${JSON.stringify(LOGGER)};`,
    `const { logger } = createLogging('info', undefined);`,
    `for (let i = 0; i < ${count}; i++) logger.info({ n: i }, 'buffered line');`,
    ending,
  ].join('\n');
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = result.stdout.split('\n').filter((line) => line.includes('buffered line'));
  return { status: result.status, lines };
}

describe('buffered standard output', () => {
  it('writes buffered lines at process.exit', () => {
    const { status, lines } = linesOf('process.exit(3);', 5);
    assert.equal(status, 3);
    assert.equal(lines.length, 5);
  });

  it('writes buffered lines after an uncaught error', () => {
    const { status, lines } = linesOf("setTimeout(() => { throw new Error('boom'); }, 1);", 5);
    assert.equal(status, 1);
    assert.equal(lines.length, 5);
  });

  it('writes a quiet line without an exit', () => {
    // The process stays alive 300 ms after one line, far shorter than any buffer fill.
    const { lines } = linesOf('setTimeout(() => process.kill(process.pid, "SIGKILL"), 300);', 1);
    assert.equal(lines.length, 1);
  });

  it('keeps every line of a long burst in order', () => {
    const { lines } = linesOf('process.exit(0);', 2_000);
    assert.equal(lines.length, 2_000);
    assert.deepEqual(
      lines.slice(0, 3).map((line) => (JSON.parse(line) as { n: number }).n),
      [0, 1, 2],
    );
    assert.equal((JSON.parse(lines.at(-1) as string) as { n: number }).n, 1_999);
  });
});
