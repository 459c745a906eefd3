import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressPolicy } from '../src/outbound/address-policy.js';
import { normaliseWebhookUrl, resolveAllowed, UrlRejection } from '../src/outbound/destination.js';

/** [input, serialisation the service stores and dials] */
const NORMALISED: ReadonlyArray<[string, string]> = [
  ['HTTP://Example.COM/hook', 'http://example.com/hook'],
  ['http://2130706433:8080/', 'http://127.0.0.1:8080/'],
  ['http://017700000001/', 'http://127.0.0.1/'],
  ['http://0x7f000001/', 'http://127.0.0.1/'],
  ['http://0x7f.1/', 'http://127.0.0.1/'],
  ['http://0177.0.0.1/', 'http://127.0.0.1/'],
  ['http://127.1/', 'http://127.0.0.1/'],
  ['http://127.000.000.001/', 'http://127.0.0.1/'],
  ['http://2852039166/', 'http://169.254.169.254/'],
  ['http://127%2E0%2E0%2E1/', 'http://127.0.0.1/'],
  ['http://127\u30020\u30020\u30021/', 'http://127.0.0.1/'],
  ['http://[0:0:0:0:0:0:0:1]/', 'http://[::1]/'],
  ['http://[::ffff:0.0.0.0]/', 'http://[::ffff:0:0]/'],
  ['https://example.com:443/a/../b?q=1#fragment', 'https://example.com/b?q=1'],
];

/** [input, part of the rejection message] */
const REJECTED: ReadonlyArray<[string, string]> = [
  ['file:///etc/passwd', 'scheme file'],
  ['gopher://127.0.0.1:70/_x', 'scheme gopher'],
  ['ftp://127.0.0.1/', 'scheme ftp'],
  ['data:text/plain,hi', 'scheme data'],
  ['ws://127.0.0.1/', 'scheme ws'],
  ['javascript:alert(1)', 'scheme javascript'],
  ['http://a@127.0.0.1/', 'credentials'],
  ['http://x:pw@[::1]/', 'credentials'],
  ['http://127.0.0.2:80@127.0.0.1/', 'credentials'],
  ['http://127.0.0.2\\@127.0.0.1/', 'backslash'],
  ['http://127.0.\t0.1/', 'control character'],
  ['http://example.com/a\r\nb', 'control character'],
  ['http://example.com/\u0000', 'control character'],
  ['http://exa mple.com/', 'space'],
  ['http://[fe80::1%25lo]/', 'zone id'],
  ['http://localhost./', 'ends with a dot'],
  ['http://example.com:0/', 'port 0'],
  ['/relative/path', 'not an absolute URL'],
  [`http://example.com/${'a'.repeat(2100)}`, 'maximum is 2048'],
];

describe('normaliseWebhookUrl', () => {
  for (const [input, expected] of NORMALISED) {
    it(`stores ${JSON.stringify(input)} as ${expected}`, () => {
      assert.equal(normaliseWebhookUrl(input, []).href, expected);
    });
  }

  for (const [input, expected] of REJECTED) {
    it(`rejects ${JSON.stringify(input.slice(0, 60))}`, () => {
      assert.throws(
        () => normaliseWebhookUrl(input, []),
        (error: unknown) => error instanceof UrlRejection && error.message.includes(expected),
      );
    });
  }

  it('rejects a port outside WEBHOOK_ALLOWED_PORTS', () => {
    assert.throws(
      () => normaliseWebhookUrl('https://example.com:8443/', [443]),
      (error: unknown) => error instanceof UrlRejection && error.blocked && /port 8443/.test(error.message),
    );
    assert.equal(normaliseWebhookUrl('https://example.com/', [443]).port, '');
    assert.throws(() => normaliseWebhookUrl('http://example.com/', [443]), UrlRejection);
  });
});

describe('resolveAllowed', () => {
  const policy = new AddressPolicy(['127.0.0.2/32']);
  const fixed = (addresses: string[]) => async () => addresses;

  it('rejects a name when any answer is blocked', async () => {
    await assert.rejects(resolveAllowed('mixed.example.test', policy, fixed(['127.0.0.2', '10.0.0.5'])), {
      message: 'blocked address 10.0.0.5 (private network)',
    });
  });

  it('treats localhost names as loopback without asking the resolver', async () => {
    const never = async (): Promise<string[]> => assert.fail('the resolver was asked');
    for (const name of ['localhost', 'foo.localhost', 'LOCALHOST']) {
      await assert.rejects(resolveAllowed(name, policy, never), /blocked address 127\.0\.0\.1 \(loopback\)/);
    }
  });

  it('fails as unresolved when a name has no answer', async () => {
    await assert.rejects(resolveAllowed('empty.example.test', policy, fixed([])), { code: 'ENOTFOUND' });
  });

  it('returns every answer when all are allowed', async () => {
    assert.deepEqual(await resolveAllowed('ok.example.test', policy, fixed(['127.0.0.2', '8.8.8.8'])), [
      '127.0.0.2',
      '8.8.8.8',
    ]);
  });
});
