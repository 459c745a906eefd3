import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from '../auth/guard.js';
import type { SessionService } from '../auth/sessions.js';
import type { Role } from '../db/schema.js';
import type { App } from '../http/server.js';
import type { Logger } from '../observability/logger.js';

/**
 * The console's build output, `web/dist` in the package's folder: the nearest folder above
 * this module with a package.json, which is the same from src/web/routes.ts and from the
 * bundled dist/main.js.
 */
export const DEFAULT_CONSOLE_ROOT = path.join(packageFolder(path.dirname(fileURLToPath(import.meta.url))), 'web/dist');

/** Returns the nearest folder at or above `start` with a package.json, or `start` when there is none. */
function packageFolder(start: string): string {
  for (let folder = start; ; folder = path.dirname(folder)) {
    if (fs.existsSync(path.join(folder, 'package.json'))) return folder;
    if (path.dirname(folder) === folder) return start;
  }
}

export const LOGIN_PATH = '/console/login';

/** Console pages and who may open them; the browser app draws each page from the path. */
const PAGES: ReadonlyArray<{ readonly url: string; readonly role: Role | 'any' }> = [
  { url: '/webhooks/manage', role: 'Admin' },
  { url: '/webhooks/manage/*', role: 'Admin' },
  { url: '/console/users', role: 'Admin' },
  { url: '/console/reports', role: 'any' },
];

/*
 * The console's scripts and styles are files under /console/assets, so the policy allows
 * nothing inline and nothing from other origins; frame-ancestors stops clickjacking.
 */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " +
    "form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export interface ConsoleOptions {
  readonly sessions: SessionService;
  readonly logger: Logger;
  /** Folder with the built index.html and assets/; defaults to DEFAULT_CONSOLE_ROOT. */
  readonly root?: string;
}

/**
 * Serves the browser console: its static assets, and its pages. A page redirects to the
 * login page without a session and returns 403 to a signed-in user without the page's role.
 */
export async function registerConsoleRoutes(app: App, options: ConsoleOptions): Promise<void> {
  const root = options.root ?? DEFAULT_CONSOLE_ROOT;
  const indexFile = path.join(root, 'index.html');
  const indexHtml = fs.existsSync(indexFile) ? fs.readFileSync(indexFile, 'utf8') : undefined;
  if (indexHtml === undefined) {
    options.logger.warn(
      { root },
      'console is not built; run npm run build to serve /webhooks/manage',
    );
  } else {
    await app.register(fastifyStatic, {
      root: path.join(root, 'assets'),
      prefix: '/console/assets/',
      index: false,
      immutable: true,
      maxAge: '365d',
    });
  }

  const sendPage = (reply: FastifyReply, status: number) => {
    if (indexHtml === undefined) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built; run npm run build and restart the service.');
    }
    return reply.code(status).headers(PAGE_HEADERS).send(indexHtml);
  };

  const hidden = { schema: { hide: true } };
  app.get('/', hidden, async (_request, reply) => reply.redirect('/console', 302));
  app.get('/console', hidden, async (request, reply) => {
    const session = await sessionOf(request, options.sessions);
    if (!session) return reply.redirect(loginUrl('/console'), 302);
    return reply.redirect(
      session.principal.role === 'Admin' ? '/webhooks/manage' : '/console/reports',
      302,
    );
  });
  app.get(LOGIN_PATH, hidden, async (_request, reply) => sendPage(reply, 200));

  for (const page of PAGES) {
    app.get(page.url, hidden, async (request, reply) => {
      const session = await sessionOf(request, options.sessions);
      if (!session) return reply.redirect(loginUrl(request.url), 302);
      const allowed = page.role === 'any' || session.principal.role === page.role;
      return sendPage(reply, allowed ? 200 : 403);
    });
  }
}

async function sessionOf(request: FastifyRequest, sessions: SessionService) {
  const token = request.cookies[SESSION_COOKIE];
  return token === undefined ? undefined : sessions.find(token);
}

function loginUrl(next: string): string {
  return `${LOGIN_PATH}?next=${encodeURIComponent(next)}`;
}
