import type { App } from '../http/server.js';

/**
 * Binds the route and method to each request's logger, so every line a request writes
 * carries them next to `request_id`, and writes one line per finished request with its
 * status and duration. Register it before the auth guard: the guard adds `user_id` and
 * `role` to this child logger, so the closing line carries them too.
 */
export function registerRequestLogging(app: App): void {
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    request.log = request.log.child({ method: request.method, ...(route ? { route } : {}) });
    reply.log = request.log;
  });

  app.addHook('onResponse', async (request, reply) => {
    const fields = {
      url: request.url.split('?')[0],
      status_code: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (reply.statusCode >= 500) request.log.error(fields, 'request completed');
    else request.log.info(fields, 'request completed');
  });
}
