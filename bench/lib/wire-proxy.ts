import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a server that counts the bytes crossing it in each
 * direction: what a push really costs on the wire, HTTP headers, framing and
 * retries included, whatever the client claims about itself.
 */
export interface WireProxy {
  url: string;
  /** client → server bytes since the last reset */
  up(): number;
  /** server → client bytes since the last reset */
  down(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startWireProxy(target: string): Promise<WireProxy> {
  const t = new URL(target);
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(t.port), t.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => (up += d.length));
    upstream.on('data', (d: Buffer) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    up: () => up,
    down: () => down,
    reset() {
      up = 0;
      down = 0;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
