import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; .ci/run installs it where it is missing. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Launches headless Chromium with the background services that would reach the internet
 * switched off. Nothing is downloaded: the system build runs, and Playwright gives each
 * launch a new, empty profile folder that it deletes on close. Each `newContext()` of the
 * browser has its own cookies, so one browser can hold several signed-in users.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing; install it with apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
