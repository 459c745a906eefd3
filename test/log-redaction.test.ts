import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { censorNestedSecrets, createLogger } from '../src/observability/logger.js';

/** Creates a logger that keeps its lines in memory, parsed. */
function memoryLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, lines };
}

describe('secrets in log lines', () => {
  it('censors top-level secret fields', () => {
    const { logger, lines } = memoryLogger();
    logger.info(
      { webhook_id: 'whk_1', password: 'pw-1', token: 'tok-1', secret: 'whsec_1', signature: 'v1,abc', headers: { 'X-Key': 'k' } },
      'with secrets',
    );
    const line = lines[0];
    assert.ok(line);
    assert.equal(line.webhook_id, 'whk_1');
    for (const key of ['password', 'token', 'secret', 'signature', 'headers']) assert.equal(line[key], '[redacted]', key);
  });

  it('censors nested fields without mutation', () => {
    const { logger, lines } = memoryLogger();
    const webhook = { id: 'whk_2', secret: 'whsec_2', headers: { Authorization: 'Bearer x' } };
    const req = { method: 'POST', headers: { authorization: 'Bearer y', cookie: 'sid=z' } };
    logger.info({ webhook, req }, 'nested');
    assert.deepEqual(lines[0]?.webhook, { id: 'whk_2', secret: '[redacted]', headers: '[redacted]' });
    assert.deepEqual(lines[0]?.req, { method: 'POST', headers: '[redacted]' });
    assert.equal(webhook.secret, 'whsec_2');
    assert.equal(req.headers.cookie, 'sid=z');
  });

  it('keeps censored errors readable', () => {
    const { logger, lines } = memoryLogger();
    const error = Object.assign(new TypeError('receiver refused'), { code: 'E_REFUSED', headers: { 'x-api-key': 'k-3' } });
    logger.error({ err: error }, 'failed');
    const logged = lines[0]?.err as Record<string, unknown> | undefined;
    assert.ok(logged);
    assert.equal(logged.type, 'TypeError');
    assert.equal(logged.message, 'receiver refused');
    assert.match(String(logged.stack), /receiver refused/);
    assert.equal(logged.code, 'E_REFUSED');
    assert.equal(logged.headers, '[redacted]');
    assert.deepEqual(error.headers, { 'x-api-key': 'k-3' });
  });

  it('censors child logger bindings', () => {
    const { logger, lines } = memoryLogger();
    const child = logger.child({ component: 'test', token: 'tok-4' });
    child.setBindings({ user_id: 'usr_4', password: 'pw-4' });
    child.info('bound');
    assert.equal(lines[0]?.component, 'test');
    assert.equal(lines[0]?.user_id, 'usr_4');
    assert.equal(lines[0]?.token, '[redacted]');
    assert.equal(lines[0]?.password, '[redacted]');
  });

  it('returns clean fields uncopied', () => {
    const fields = { event_id: 'evt_5', status_code: 204, nested: { id: 'x' }, list: [{ secret: 'in a list' }] };
    assert.equal(censorNestedSecrets(fields), fields);
  });
});
