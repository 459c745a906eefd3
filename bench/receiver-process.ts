/*
 * A benchmark receiver: one child process serving many endpoints, each on its own port of
 * RECEIVER_HOST, so every endpoint is a distinct origin with its own connection pool. It
 * responds 204 with no body and keeps connections alive, unless the endpoint has a fault,
 * and records (event id, endpoint, arrival time, creation time, status) for the ledger.
 * The parent drives it over the IPC channel; see ReceiverCommand.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Fault, ReceiverCommand, ReceiverReply } from './receivers.js';
import { serveCommands } from './processes.js';

interface Endpoint {
  readonly index: number;
  readonly server: http.Server;
  port: number;
  fault: Fault;
  /** Open connections, each with the number of its requests still awaiting a response. */
  readonly open: Map<Socket, number>;
  peakSockets: number;
}

/** Arrival records in parallel arrays: a million of them stay well under 100 MB. */
const ledger = {
  endpoint: [] as number[],
  eventId: [] as string[],
  arrivedAt: [] as number[],
  createdAt: [] as number[],
  status: [] as number[],
};
let successes = 0;
/** Endpoint and event id of every 2xx arrival since the last clear, so duplicates count once. */
const delivered = new Set<string>();
const endpoints: Endpoint[] = [];
const TIMESTAMP = /"timestamp":"([^"]+)"/;

/** Milliseconds since the Unix epoch with sub-millisecond resolution. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function decide(fault: Fault): number | 'hang' | 'reset' {
  switch (fault.kind) {
    case 'none':
    case 'delay':
      return 204;
    case 'hang':
      return 'hang';
    case 'reset':
      return 'reset';
    case 'error':
      return Math.random() < (fault.rate ?? 1) ? 500 : 204;
    case 'throttle':
      return Math.random() < (fault.rate ?? 1) ? 429 : 204;
  }
}

function record(endpoint: Endpoint, req: http.IncomingMessage, body: string, status: number): void {
  const arrivedAt = nowMs();
  const match = TIMESTAMP.exec(body);
  ledger.endpoint.push(endpoint.index);
  ledger.eventId.push(String(req.headers['webhook-id'] ?? ''));
  ledger.arrivedAt.push(arrivedAt);
  ledger.createdAt.push(match ? Date.parse(match[1] as string) : Number.NaN);
  ledger.status.push(status);
  if (status >= 200 && status < 300) {
    successes += 1;
    delivered.add(`${endpoint.index}|${String(req.headers['webhook-id'] ?? '')}`);
  }
}

function handle(endpoint: Endpoint, req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket;
  const awaiting = endpoint.open.get(socket);
  if (awaiting !== undefined) endpoint.open.set(socket, awaiting + 1);
  res.on('close', () => {
    const count = endpoint.open.get(socket);
    if (count !== undefined) endpoint.open.set(socket, count - 1);
  });

  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const fault = endpoint.fault;
    const outcome = decide(fault);
    if (outcome === 'hang') {
      record(endpoint, req, body, 0);
      return;
    }
    if (outcome === 'reset') {
      record(endpoint, req, body, 0);
      req.socket.resetAndDestroy();
      return;
    }
    const answer = (): void => {
      record(endpoint, req, body, outcome);
      if (outcome === 429) res.setHeader('retry-after', String(fault.retryAfterSeconds ?? 1));
      res.statusCode = outcome;
      res.end();
    };
    if (fault.kind === 'delay') setTimeout(answer, fault.delayMs ?? 2_000);
    else answer();
  });
}

async function listen(index: number, host: string): Promise<Endpoint> {
  const server = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 });
  const endpoint: Endpoint = { index, server, port: 0, fault: { kind: 'none' }, open: new Map(), peakSockets: 0 };
  server.on('request', (req, res) => handle(endpoint, req, res));
  server.on('connection', (socket: Socket) => {
    endpoint.open.set(socket, 0);
    endpoint.peakSockets = Math.max(endpoint.peakSockets, endpoint.open.size);
    socket.on('error', () => undefined);
    socket.on('close', () => endpoint.open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  endpoint.port = (server.address() as AddressInfo).port;
  return endpoint;
}

function dump(file: string): number {
  const lines: string[] = [];
  for (let i = 0; i < ledger.endpoint.length; i++) {
    lines.push(
      `${ledger.endpoint[i]}\t${ledger.eventId[i]}\t${ledger.arrivedAt[i]}\t${ledger.createdAt[i]}\t${ledger.status[i]}`,
    );
  }
  fs.writeFileSync(file, lines.join('\n'));
  return lines.length;
}

function openSockets(): number {
  return endpoints.reduce((sum, endpoint) => sum + endpoint.open.size, 0);
}

function clear(): void {
  for (const column of Object.values(ledger)) column.length = 0;
  successes = 0;
  delivered.clear();
  for (const endpoint of endpoints) endpoint.peakSockets = endpoint.open.size;
}

async function run(command: ReceiverCommand): Promise<ReceiverReply> {
  switch (command.type) {
    case 'listen': {
      for (let i = 0; i < command.count; i++) {
        endpoints.push(await listen(endpoints.length, command.host));
      }
      return { ports: endpoints.map((endpoint) => endpoint.port) };
    }
    case 'fault':
      for (const index of command.endpoints) (endpoints[index] as Endpoint).fault = command.fault;
      return {};
    case 'count':
      return { successes, distinct: delivered.size, arrivals: ledger.endpoint.length, sockets: openSockets() };
    case 'close-idle':
      // server.closeIdleConnections() leaves open a connection that never sent a complete
      // request, and after B1's overload 4 to 11 of those stayed open for the rest of a run.
      // So every connection with no request awaiting a response is closed here.
      for (const endpoint of endpoints) {
        for (const [socket, awaiting] of endpoint.open) if (awaiting === 0) socket.destroy();
      }
      return { sockets: openSockets() };
    case 'dump': {
      // Writing and clearing in one synchronous step loses no arrival in between.
      const peakSockets = endpoints.map((endpoint) => endpoint.peakSockets);
      const records = dump(command.file);
      clear();
      return { records, peakSockets, cpu: process.cpuUsage() };
    }
    case 'clear':
      clear();
      return {};
    case 'close':
      for (const endpoint of endpoints) endpoint.server.closeAllConnections();
      setImmediate(() => process.exit(0));
      return {};
  }
}

serveCommands(run);
