import swaggerUi from '@fastify/swagger-ui';
import type { App } from './server.js';

/**
 * Serves the OpenAPI 3.1 document generated from the route schemas at
 * /api/docs/openapi.json (also at /api/docs/json, which the page loads) and a Swagger UI
 * page at /api/docs. The page's scripts and styles come from the installed package and its
 * schema validator badge is off, so the page makes no request to another host.
 */
export function registerApiDocs(app: App): void {
  app.get('/api/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  void app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { docExpansion: 'list' },
    staticCSP: true,
  });
}
