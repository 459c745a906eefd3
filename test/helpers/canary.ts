import net from 'node:net';

/** A listener that must never be reached: it counts every connection it accepts. */
export interface Canary {
  readonly port: number;
  readonly hosts: readonly string[];
  connections(): number;
  close(): Promise<void>;
}

/**
 * Listens on the same free port on every host given (by default 127.0.0.1 and ::1). `::`
 * is bound IPv6-only so that it can share the port with 0.0.0.0.
 */
export async function startCanary(hosts: readonly string[] = ['127.0.0.1', '::1']): Promise<Canary> {
  for (let attempt = 1; ; attempt++) {
    const servers: net.Server[] = [];
    let count = 0;
    const onConnection = (socket: net.Socket): void => {
      count += 1;
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ncanary');
    };
    try {
      let port = 0;
      for (const host of hosts) {
        const server = net.createServer(onConnection);
        servers.push(server);
        await listen(server, host, port);
        port = (server.address() as net.AddressInfo).port;
      }
      return {
        port,
        hosts,
        connections: () => count,
        close: () => closeAll(servers),
      };
    } catch (error) {
      await closeAll(servers);
      // The port chosen on the first host may be taken on another; pick a new one.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw error;
    }
  }
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host === '::' }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeAll(servers: readonly net.Server[]): Promise<void> {
  await Promise.all(
    servers
      .filter((server) => server.listening)
      .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
}

/** A port on 127.0.0.1 that was free a moment ago and has nothing listening now. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await listen(server, '127.0.0.1', 0);
  const { port } = server.address() as net.AddressInfo;
  await closeAll([server]);
  return port;
}
