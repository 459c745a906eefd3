import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeResolver } from './helpers/resolver.js';
import { RECEIVER_HOST, startService, tempDir, type TestService } from './helpers/service.js';
import { createWebhook, testCall } from './helpers/webhooks.js';

/*
 * The outbound client dials the checked IP address rather than the host name, so these
 * tests confirm that TLS still sends the host name as SNI and still verifies the
 * certificate: a self-signed certificate must fail the attempt.
 */
function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = hasOpenssl() ? false : 'the openssl command, which creates the test certificate, is missing';

describe('outbound safety: TLS to a checked address', { skip }, () => {
  const dns = new FakeResolver();
  const serverNames: Array<string | undefined> = [];
  let server: https.Server;
  let port: number;
  let requests = 0;
  let svc: TestService;

  before(async () => {
    const dir = tempDir('webhooks-tls-');
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=receiver.example.test',
      '-addext', 'subjectAltName=DNS:receiver.example.test',
    ], { stdio: 'ignore' });

    server = https.createServer(
      {
        key: fs.readFileSync(key),
        cert: fs.readFileSync(cert),
        SNICallback: (name, done) => {
          serverNames.push(name);
          done(null, undefined);
        },
      },
      (_request, response) => {
        requests += 1;
        response.end();
      },
    );
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
    port = (server.address() as AddressInfo).port;
    dns.set('receiver.example.test', [RECEIVER_HOST]);
    svc = await startService({}, { lookup: dns.lookup });
  });
  after(async () => {
    await svc.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the host name as SNI and rejects a self-signed certificate', async () => {
    const created = await createWebhook(svc.admin, `https://receiver.example.test:${port}/hook`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.error_kind, 'tls');
    assert.equal(result.status_code, null);
    assert.deepEqual(serverNames, ['receiver.example.test']);
    assert.equal(requests, 0);
  });
});
