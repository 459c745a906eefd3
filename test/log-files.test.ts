import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { createLogging } from '../src/observability/logger.js';
import { tempDir, testEnv } from './helpers/service.js';

const discard = { write: () => undefined };

function readLines(file: string): Array<Record<string, any>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

describe('log files', () => {
  it('rotates app.log and error.log by size', async () => {
    const dir = tempDir('webhooks-logs-');
    const logging = createLogging('info', { dir, maxSizeBytes: 2048, fileCount: 2 }, discard);
    const padding = 'x'.repeat(60);
    for (let i = 0; i < 400; i++) {
      if (i % 4 === 0) logging.logger.error({ n: i, padding }, 'simulated failure');
      else logging.logger.info({ n: i, padding }, 'filler line');
    }
    await logging.close();

    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, [
      'app.log',
      'app.log.1',
      'app.log.2',
      'error.log',
      'error.log.1',
      'error.log.2',
    ]);
    for (const file of files) {
      // A write is never split, so a file may pass the limit by at most one line.
      assert.ok(
        fs.statSync(path.join(dir, file)).size < 2048 + 512,
        `${file} stays near the size limit`,
      );
    }

    const current = readLines(path.join(dir, 'app.log'));
    assert.equal(current.at(-1)?.n, 399);
    const errors = [
      ...readLines(path.join(dir, 'error.log.1')),
      ...readLines(path.join(dir, 'error.log')),
    ];
    assert.ok(errors.length > 0);
    assert.ok(errors.every((line) => line.level === 'error' && line.msg === 'simulated failure'));
    assert.equal(errors.at(-1)?.n, 396);
  });

  it('reads LOG_DIR, LOG_FILE_MAX_SIZE and LOG_FILE_COUNT', () => {
    const dir = tempDir('webhooks-logs-');
    const defaults = loadConfig(testEnv(dir, { LOG_DIR: dir }));
    assert.deepEqual(defaults.logFiles, { dir, maxSizeBytes: 10 * 1024 * 1024, fileCount: 5 });

    const custom = loadConfig(
      testEnv(dir, { LOG_DIR: dir, LOG_FILE_MAX_SIZE: '512KB', LOG_FILE_COUNT: '3' }),
    );
    assert.deepEqual(custom.logFiles, { dir, maxSizeBytes: 512 * 1024, fileCount: 3 });
    assert.equal(loadConfig(testEnv(dir)).logFiles, undefined);

    assert.throws(
      () => loadConfig(testEnv(dir, { LOG_DIR: dir, LOG_FILE_MAX_SIZE: '10 parsecs' })),
      /LOG_FILE_MAX_SIZE: "10 parsecs" is not a size/,
    );
    assert.throws(
      () => loadConfig(testEnv(dir, { LOG_DIR: dir, LOG_FILE_COUNT: '0' })),
      /LOG_FILE_COUNT/,
    );
  });
});
