import { Type } from 'typebox';
import { ALL_ROLES } from '../auth/guard.js';
import type { App } from '../http/server.js';
import { errorResponses } from '../http/schemas.js';
import { EVENT_CATALOG } from './catalog.js';

export function registerEventRoutes(app: App): void {
  app.get(
    '/api/v1/event-types',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['events'],
        summary: 'The event catalog: each type with its payload schema and an example',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                name: Type.String(),
                description: Type.String(),
                schema: Type.Unknown(),
                example: Type.Unknown(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({
      data: EVENT_CATALOG.map((entry) => ({
        name: entry.name,
        description: entry.description,
        schema: JSON.parse(JSON.stringify(entry.schema)) as unknown,
        example: entry.example,
      })),
    }),
  );
}
