/*
 * The bare servers `bench/floor.ts` measures: `node:http` or Fastify with no logger, each
 * returning a small JSON body for every GET: the least an HTTP API does per request.
 * Usage: floor-server.ts http|fastify PORT
 */
import http from 'node:http';
import Fastify from 'fastify';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
const body = JSON.stringify({ status: 'ok' });

if (kind === 'http') {
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
  });
  server.listen(port, '127.0.0.1');
} else if (kind === 'fastify') {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.listen({ port, host: '127.0.0.1' });
} else {
  throw new Error(`invalid server kind ${JSON.stringify(kind)}: expected http or fastify`);
}
