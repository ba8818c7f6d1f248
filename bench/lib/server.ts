import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rmrf } from './fsutil.ts';

/**
 * A real dvx-server for the benchmarks: the server of the same compiled
 * snapshot as the CLI being measured (<snapshot>/server/bin.js), on the fs
 * backend, in a scratch data folder, on a free loopback port.
 */
export interface BenchServer {
  url: string;
  adminToken: string;
  dataDir: string;
  /** requests answered so far, from the server's own Prometheus counters (scrapes excluded) */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

export async function startBenchServer(opts: { dvxBin: string; dataDir: string; env?: Record<string, string> }): Promise<BenchServer> {
  const bin = join(dirname(dirname(opts.dvxBin)), 'server', 'bin.js');
  rmrf(opts.dataDir);
  mkdirSync(opts.dataDir, { recursive: true });
  const adminToken = `bench-${randomBytes(16).toString('hex')}`;
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve'], {
    env: { PATH: process.env.PATH, DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_DATA_DIR: opts.dataDir, DVX_STORAGE: 'fs', DVX_ADMIN_TOKEN: adminToken, DVX_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dvx-server did not start within 30 s:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          clearTimeout(timer);
          resolve(String((JSON.parse(line) as { url: string }).url).replace('//localhost:', '//127.0.0.1:'));
        } catch {
          // a partial line; the rest comes with the next chunk
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dvx-server exited (${code}) before listening:\n${out}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    url,
    adminToken,
    dataDir: opts.dataDir,
    async requests() {
      const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
      let n = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith('dvx_http_requests_total{') || line.includes('route="/metrics"')) continue;
        n += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return n;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
