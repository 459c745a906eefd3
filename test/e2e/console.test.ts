import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';

/** Set to a folder (e.g. docs/screenshots) to save screenshots of the main screens there. */
const SCREENSHOT_DIR = process.env.CONSOLE_SCREENSHOT_DIR;

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOT_DIR === undefined || SCREENSHOT_DIR === '') return;
  await page.screenshot({
    path: path.join(SCREENSHOT_DIR, `${name}.png`),
    fullPage: true,
    animations: 'disabled',
  });
}

async function signIn(
  context: BrowserContext,
  baseUrl: string,
  email: string,
  password: string,
  start: string,
) {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(baseUrl + start);
  assert.equal(
    new URL(page.url()).pathname,
    '/console/login',
    `${start} sends a signed-out browser to login`,
  );
  assert.equal(new URL(page.url()).searchParams.get('next'), start);

  // Keyboard only: the email field, Tab to the password, Enter to submit.
  await page.getByLabel('Email', { exact: true }).focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.pathname === start);
  return page;
}

describe('admin console in Chromium', () => {
  let svc: TestService;
  let receiver: Receiver;
  let browser: Browser;
  let admin: Page;
  let webhookId: string;

  before(async () => {
    svc = await startService({ REPORT_APPROVAL_STAGES: '1', LOGIN_MAX_FAILURES: '3' });
    receiver = await startReceiver(() => ({ status: 200, body: 'ok from the receiver' }));
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    admin = await signIn(context, svc.url, ADMIN_EMAIL, ADMIN_PASSWORD, '/webhooks/manage');
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await svc?.close();
  });

  it('shows the empty state', async () => {
    await admin.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
    await screenshot(admin, 'webhooks-empty');
  });

  it('creates a webhook with field errors first', async () => {
    await admin.getByRole('link', { name: 'Create your first webhook' }).click();
    await admin.getByRole('heading', { name: 'New webhook' }).waitFor();
    await admin.getByLabel('Name', { exact: true }).fill('Quality system');
    await admin.getByLabel('Endpoint URL', { exact: true }).fill('http://10.0.0.1/hook');
    await admin.getByRole('checkbox', { name: /^submission/ }).check();
    await admin.getByRole('button', { name: 'Create webhook' }).click();

    const urlField = admin.locator('.field', {
      has: admin.getByLabel('Endpoint URL', { exact: true }),
    });
    await urlField.locator('.field-error').waitFor();
    assert.match(await urlField.locator('.field-error').innerText(), /private network/);
    assert.equal(
      await admin.getByLabel('Endpoint URL', { exact: true }).getAttribute('aria-invalid'),
      'true',
    );
    await screenshot(admin, 'webhook-form-error');

    await admin.getByLabel('Endpoint URL', { exact: true }).fill(receiver.url);
    for (const type of ['approval', 'rejection', 'completion']) {
      await admin.getByRole('checkbox', { name: new RegExp(`^${type}`) }).check();
    }
    await admin.getByRole('button', { name: 'Add header' }).click();
    await admin.getByLabel('Header 1 name', { exact: true }).fill('Authorization');
    await admin.getByLabel('Header 1 value', { exact: true }).fill('Bearer receiver-token');
    await admin.getByRole('button', { name: 'Create webhook' }).click();
    await admin.waitForURL(/\/webhooks\/manage\/wh_[A-Za-z0-9]+$/);
    webhookId = admin.url().split('/').at(-1) ?? '';

    const saved = await svc.admin.get(`/api/v1/webhooks/${webhookId}`);
    assert.equal(saved.body.url, receiver.url);
    assert.deepEqual(saved.body.event_types, ['submission', 'approval', 'rejection', 'completion']);
    assert.deepEqual(saved.body.headers, { Authorization: '********' });
  });

  it('hides saved header values when editing', async () => {
    await admin.getByRole('link', { name: 'Edit' }).click();
    await admin.getByRole('heading', { name: 'Edit Quality system' }).waitFor();
    assert.equal(
      await admin.getByLabel('Header 1 name', { exact: true }).inputValue(),
      'Authorization',
    );
    assert.equal(await admin.getByLabel('Header 1 value', { exact: true }).inputValue(), '');
    assert.match(
      (await admin.getByLabel('Header 1 value', { exact: true }).getAttribute('placeholder')) ?? '',
      /Hidden/,
    );
    await admin.getByLabel('Name', { exact: true }).fill('Quality system EU');
    await admin.getByRole('button', { name: 'Save changes' }).click();
    await admin.getByRole('heading', { name: 'Quality system EU' }).waitFor();
    assert.equal(
      (await svc.admin.get(`/api/v1/webhooks/${webhookId}`)).body.name,
      'Quality system EU',
    );
  });

  it('tests the endpoint and reveals the secret', async () => {
    await admin.getByRole('button', { name: 'Send test event' }).click();
    const result = admin.getByTestId('test-result');
    await result.waitFor();
    const text = await result.innerText();
    assert.match(text, /Delivered/);
    assert.match(text, /Status\s+200/);
    assert.match(text, /Latency\s+\d+ ms/);
    assert.match(text, /ok from the receiver/);
    const received = await receiver.waitFor(1);
    assert.equal(JSON.parse(received[0]?.body ?? '{}').test, true);
    assert.equal(received[0]?.headers.authorization, 'Bearer receiver-token');

    await admin.getByRole('button', { name: 'Reveal secret' }).click();
    await admin.getByRole('button', { name: 'Copy' }).waitFor();
    const secret = (await svc.admin.get(`/api/v1/webhooks/${webhookId}/secret`)).body
      .secret as string;
    assert.equal(await admin.getByTestId('secret').innerText(), secret);
    await admin.getByText('How to verify a request (Node.js)').click();
    await screenshot(admin, 'webhook-detail');
  });

  it('names a refused connection in plain words', async () => {
    const closedPort = await freePort(receiver.url);
    const other = await svc.admin.post('/api/v1/webhooks', {
      name: 'Nobody listening',
      url: `http://127.0.0.2:${closedPort}/hook`,
      event_types: ['completion'],
    });
    await admin.goto(`${svc.url}/webhooks/manage/${other.body.id}`);
    await admin.getByRole('button', { name: 'Send test event' }).click();
    const text = await admin.getByTestId('test-result').innerText();
    assert.match(text, /Failed: Connection refused/);
    assert.match(text, /Status\s+No response/);
    await svc.admin.delete(`/api/v1/webhooks/${other.body.id}`);
  });

  it('runs a report through its life cycle', async () => {
    const engineerUser = await svc.createUser('Engineer');
    const approverUser = await svc.createUser('Approver');
    const engineerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const approverContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const engineer = await signIn(
      engineerContext,
      svc.url,
      engineerUser.email,
      engineerUser.password,
      '/console/reports',
    );
    const approver = await signIn(
      approverContext,
      svc.url,
      approverUser.email,
      approverUser.password,
      '/console/reports',
    );

    await engineer.getByLabel('Title', { exact: true }).fill('Pump station 4');
    await engineer.getByLabel('Reference', { exact: true }).fill('SAT-2026-0042');
    await engineer.getByLabel('Client', { exact: true }).fill('Northwind Water');
    await engineer.getByRole('button', { name: 'Create draft' }).click();
    const engineerRow = engineer.getByRole('row', { name: /Pump station 4/ });
    await engineerRow.getByText('DRAFT', { exact: true }).waitFor();
    await engineerRow.getByRole('button', { name: 'Submit' }).click();
    await engineerRow.getByText('PENDING', { exact: true }).waitFor();

    await approver.reload();
    const approverRow = approver.getByRole('row', { name: /Pump station 4/ });
    await approverRow.getByRole('button', { name: 'Reject' }).click();
    await approverRow.getByRole('button', { name: 'Reject report' }).click();
    await approverRow.locator('.field-error').waitFor();
    await approverRow
      .getByLabel('Reason for rejecting', { exact: true })
      .fill('Torque values missing.');
    await approverRow.getByRole('button', { name: 'Reject report' }).click();
    await approverRow.getByText('REJECTED', { exact: true }).waitFor();

    await engineer.reload();
    await engineerRow.getByRole('button', { name: 'Submit' }).click();
    await engineerRow.getByText('PENDING', { exact: true }).waitFor();
    await approver.reload();
    await approverRow.getByRole('button', { name: 'Approve' }).click();
    await approverRow.getByText('APPROVED', { exact: true }).waitFor();
    await approverRow.getByRole('button', { name: 'Complete' }).click();
    await approverRow.getByText('COMPLETED', { exact: true }).waitFor();
    await screenshot(approver, 'reports');

    const received = await receiver.waitFor(6);
    const types = received
      .slice(1)
      .map((request) => JSON.parse(request.body).event_type ?? JSON.parse(request.body).type);
    assert.equal(types.length, 5);

    await engineer.goto(`${svc.url}/webhooks/manage`);
    await engineer.getByRole('heading', { name: 'This page needs the Admin role' }).waitFor();
    const response = await engineer.request.get(`${svc.url}/webhooks/manage`, { maxRedirects: 0 });
    assert.equal(response.status(), 403);
    assert.equal(
      await engineer.getByRole('link', { name: 'Webhooks', exact: true }).count(),
      0,
      'no Admin links for Engineers',
    );
    await screenshot(engineer, 'forbidden');
    await engineerContext.close();
    await approverContext.close();
  });

  it('shows deliveries and attempts and redelivers', async () => {
    await admin.goto(`${svc.url}/webhooks/manage/${webhookId}`);
    const rows = admin.locator('section[aria-labelledby="deliveries-title"] tbody tr');
    await eventually(
      async () => {
        await admin.getByRole('button', { name: 'Refresh' }).click();
        await admin.waitForTimeout(100);
        return (await rows.count()) === 6 ? true : undefined;
      },
      10_000,
      'five deliveries and the test call in the table',
    );
    assert.match(await rows.first().innerText(), /completion/, 'newest first');

    await admin.getByLabel('Event type', { exact: true }).selectOption('submission');
    await eventually(
      async () => ((await rows.count()) === 3 ? true : undefined),
      5_000,
      'two submissions and the test call',
    );
    await admin.getByLabel('Status', { exact: true }).selectOption('failed');
    await admin.getByText('No deliveries match').waitFor();
    await admin.getByLabel('Status', { exact: true }).selectOption('succeeded');
    await eventually(
      async () => ((await rows.count()) === 3 ? true : undefined),
      5_000,
      'three succeeded submissions',
    );

    await rows.first().getByRole('link').click();
    await admin.getByRole('heading', { name: /submission delivery/ }).waitFor();
    await admin.getByText('Request headers').click();
    const attempt = admin.getByRole('article', { name: 'Attempt 1' });
    const headers = await attempt.locator('dl.headers').innerText();
    assert.match(headers, /authorization\s+\*{8}/i);
    assert.match(headers, /webhook-signature\s+v1,\*{8}/);
    assert.doesNotMatch(headers, /receiver-token/);
    assert.match(await attempt.innerText(), /Response status\s+200/);
    assert.match(await attempt.innerText(), /ok from the receiver/);
    await screenshot(admin, 'delivery-detail');

    const before = receiver.requests.length;
    await admin.getByRole('button', { name: 'Send again' }).click();
    await admin.getByText('Queued to be sent again').waitFor();
    await receiver.waitFor(before + 1);
    await eventually(
      async () => {
        await admin.getByRole('button', { name: 'Refresh' }).click();
        await admin.waitForTimeout(100);
        return (await admin.getByRole('article', { name: 'Attempt 2' }).count()) === 1
          ? true
          : undefined;
      },
      10_000,
      'the second attempt',
    );
    assert.match(await admin.getByRole('article', { name: 'Attempt 2' }).innerText(), /manual/);
  });

  it('lists activity and deactivates in one click', async () => {
    await admin.goto(`${svc.url}/webhooks/manage`);
    const row = admin.getByRole('row', { name: /Quality system EU/ });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /submission/);
    assert.match(text, /100%/);
    assert.match(text, /Succeeded \(200\)/);
    await screenshot(admin, 'webhooks');

    await row.getByRole('switch').click();
    await row.getByText('Inactive').waitFor();
    assert.equal(await row.getByRole('switch').isChecked(), false);
    assert.equal((await svc.admin.get(`/api/v1/webhooks/${webhookId}`)).body.is_active, false);
  });

  it('works at 390 px wide', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await signIn(phone, svc.url, ADMIN_EMAIL, ADMIN_PASSWORD, '/webhooks/manage');
    await page.getByRole('row', { name: /Quality system EU/ }).waitFor();
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth'));
    assert.ok(overflow <= 390, `the page is ${overflow} px wide`);
    await screenshot(page, 'webhooks-390');
    await phone.close();
  });

  it('manages users and keeps the last Admin', async () => {
    await admin.getByRole('link', { name: 'Users' }).click();
    await admin.getByRole('heading', { name: 'Users' }).waitFor();
    await admin.getByLabel(`Role of ${ADMIN_EMAIL}`).selectOption('Engineer');
    await admin.getByText(/last active Admin/).waitFor();
    assert.equal(await admin.getByLabel(`Role of ${ADMIN_EMAIL}`).inputValue(), 'Admin');

    await admin.getByLabel('Email', { exact: true }).fill('new.approver@example.test');
    await admin.getByLabel('Password', { exact: true }).fill('short');
    await admin.getByRole('button', { name: 'Add user' }).click();
    const passwordField = admin.locator('.field', {
      has: admin.getByLabel('Password', { exact: true }),
    });
    assert.match(await passwordField.locator('.field-error').innerText(), /12/);
    await admin.getByLabel('Password', { exact: true }).fill('a-long-enough-password');
    await admin.getByRole('combobox', { name: 'Role', exact: true }).selectOption('Approver');
    await admin.getByRole('button', { name: 'Add user' }).click();
    await admin.getByText('new.approver@example.test can now sign in as Approver.').waitFor();
    await admin.getByRole('switch', { name: 'new.approver@example.test active' }).click();
    await admin
      .getByRole('row', { name: /new\.approver/ })
      .getByText('Inactive')
      .waitFor();
    assert.equal(
      await admin.getByRole('switch', { name: 'new.approver@example.test active' }).isChecked(),
      false,
    );
    await screenshot(admin, 'users');
  });

  it('deletes a webhook after confirmation', async () => {
    await admin.goto(`${svc.url}/webhooks/manage/${webhookId}`);
    await admin.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await svc.admin.get(`/api/v1/webhooks/${webhookId}`)).status, 200);

    await admin.getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByRole('button', { name: 'Delete webhook' }).click();
    await admin.waitForURL((url) => url.pathname === '/webhooks/manage');
    await admin.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
    assert.equal((await svc.admin.get(`/api/v1/webhooks/${webhookId}`)).status, 404);
  });

  it('signs out and ends the session', async () => {
    await admin.getByRole('button', { name: 'Sign out' }).click();
    await admin.waitForURL((url) => url.pathname === '/console/login');
    await admin.goto(`${svc.url}/console/users`);
    assert.equal(new URL(admin.url()).pathname, '/console/login');
    assert.equal(new URL(admin.url()).searchParams.get('next'), '/console/users');

    await admin.getByLabel('Email', { exact: true }).fill(ADMIN_EMAIL);
    await admin.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.waitForURL((url) => url.pathname === '/console/users');
  });

  it('refuses a cross-site form POST', async () => {
    const attacker = await startAttackerPage(svc.url);
    try {
      await admin.goto(attacker.url);
      await admin.waitForURL((url) => url.pathname === '/api/v1/webhooks');
      const body = JSON.parse(await admin.locator('body').innerText());
      assert.equal(body.code, 'csrf_failed');
      assert.equal((await svc.admin.get('/api/v1/webhooks')).body.data.length, 0);
    } finally {
      await attacker.close();
    }
  });

  it('throttles repeated failed sign-ins', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${svc.url}/console/login`);
    await page.getByLabel('Email', { exact: true }).fill('someone@example.test');
    for (let i = 0; i < 3; i += 1) {
      await page.getByLabel('Password', { exact: true }).fill(`wrong-password-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').getByText('The email or password is incorrect.').waitFor();
    }
    await page.getByLabel('Password', { exact: true }).fill('wrong-password-3');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .getByText(/Too many failed sign-ins; try again in/)
      .waitFor();
    await screenshot(page, 'login-locked');
    await context.close();
  });
});

/** A port on the receiver's address where nothing listens. */
async function freePort(receiverUrl: string): Promise<number> {
  const host = new URL(receiverUrl).hostname;
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A page on another origin of the same site (127.0.0.1, another port) whose form posts to
 * the service on load. SameSite=Lax lets the browser send the session cookie with it, so
 * only the Origin and CSRF token checks stand in the way.
 */
async function startAttackerPage(
  serviceUrl: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const html = `<!doctype html><form method="post" action="${serviceUrl}/api/v1/webhooks" enctype="text/plain">
<input name='{"name":"evil","url":"http://127.0.0.2:9/x","event_types":["submission"],"x":"' value='"}'>
</form><script>document.forms[0].submit()</script>`;
  const server = http.createServer((_request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
