/**
 * Benchmarks of dvx-server's file GETs (run by hand, the compiled server from dist/):
 *
 *   node scripts/build.mjs
 *   node --import tsx bench/server-get.ts [--size 1GiB] [--only fs,azure,rss] [--bin SERVER_BIN] [--json OUT]
 *
 * (`npm run bench -- server-get` runs it through benchmarks/b11-server-get.ts,
 * with the snapshot's server and --json, and judges the targets.)
 *
 * - fs:    GET of a SIZE file from the fs backend over loopback (target >= 500 MB/s)
 * - azure: GET of the same file from Azurite through the server, against a
 *          direct @azure/storage-blob download of the packs holding it (target >= 0.8x)
 * - rss:   server peak RSS (VmHWM) while 8 clients stream the file at once (target < 300 MB)
 *
 * The file is random bytes, uploaded once per backend through the uploads route.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../test/support/azurite.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const SIZE = parseSize(arg('size', '1GiB'));
const ONLY = new Set(arg('only', 'fs,azure,rss').split(','));
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = arg('bin', join(ROOT, 'dist', 'server', 'bin.js'));
const JSON_OUT = arg('json', '');
const figures: Record<string, number> = {};
const ADMIN = `bench-${randomBytes(24).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'dvx-bench-'));
const MB = 1e6;

function parseSize(s: string): number {
  const m = /^(\d+)(GiB|MiB)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * (m[2] === 'GiB' ? 1 << 30 : m[2] === 'MiB' ? 1 << 20 : 1);
}

async function makeFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let done = 0; done < size; ) {
    const n = Math.min(8 << 20, size - done);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    done += n;
  }
  out.end();
  await once(out, 'finish');
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_ADMIN_TOKEN: ADMIN, DVX_LOG_LEVEL: 'info', DVX_MAX_UPLOAD_BYTES: '64GiB', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    let found = false;
    child.stdout!.on('data', (d) => {
      if (found) return; // keep draining the pipe, keep nothing
      buf += d;
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) {
        found = true;
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return { url, child, stop: async () => { const gone = once(child, 'exit'); child.kill('SIGTERM'); await gone; } };
}

async function upload(url: string, path: string): Promise<{ sha256: string }> {
  const boundary = 'dvxbench';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = head.length + statSync(path).size + tail.length;
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/repos/bench/uploads', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 201 ? resolve({ sha256: JSON.parse(body).files[0].sha256 }) : reject(new Error(`upload: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.write(head);
    const rs = createReadStream(path, { highWaterMark: 4 << 20 });
    rs.pipe(req, { end: false });
    rs.on('end', () => req.end(tail));
  });
}

/**
 * GETs a URL, discarding the body; returns bytes and seconds. curl is the
 * client when installed: a Node client parsing 64 KiB events tops out near
 * 450 MB/s on this machine and would measure itself, not the server.
 */
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
function get(url: string, path: string): Promise<{ bytes: number; seconds: number }> {
  if (HAVE_CURL) return curlGet(url, path);
  return nodeGet(url, path);
}

function curlGet(url: string, path: string): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-s', '-f', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '-H', `Authorization: Bearer ${ADMIN}`, `${url}${path}`]);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`curl ${path}: exit ${code}`));
      const [bytes, seconds] = out.trim().split(' ').map(Number);
      resolve({ bytes: bytes!, seconds: seconds! });
    });
  });
}

function nodeGet(url: string, path: string): Promise<{ bytes: number; seconds: number }> {
  const u = new URL(url);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    request({ host: u.hostname, port: u.port, path, headers: { authorization: `Bearer ${ADMIN}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode}`));
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

function vmHwm(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const results: string[] = [];
const report = (line: string) => {
  console.log(line);
  results.push(line);
};

async function main() {
  const file = join(work, 'big.bin');
  console.log(`making a ${SIZE} byte file...`);
  await makeFile(file, SIZE);
  report(`file: ${(SIZE / (1 << 20)).toFixed(0)} MiB of random bytes; node ${process.version}; ${(await import('node:os')).cpus().length} CPUs; client: ${HAVE_CURL ? 'curl' : 'node:http'}`);

  if (ONLY.has('fs') || ONLY.has('rss')) {
    const dataDir = join(work, 'fs-data');
    let s = await startServer({ DVX_DATA_DIR: dataDir, DVX_STORAGE: 'fs' });
    const t0 = process.hrtime.bigint();
    const { sha256 } = await upload(s.url, file);
    report(`fs upload (multipart, chunked and packed on the server): ${(SIZE / MB / (Number(process.hrtime.bigint() - t0) / 1e9)).toFixed(0)} MB/s`);
    const path = `/api/v1/repos/bench/files/${sha256}`;
    if (ONLY.has('fs')) {
      const runs = [];
      for (let i = 0; i < 4; i++) runs.push(await get(s.url, path));
      const rates = runs.slice(1).map((r) => r.bytes / MB / r.seconds);
      figures.fsMBps = median(rates);
      report(`fs GET over loopback: ${rates.map((r) => r.toFixed(0)).join(', ')} MB/s (median ${median(rates).toFixed(0)}; first, cold: ${(runs[0]!.bytes / MB / runs[0]!.seconds).toFixed(0)})`);
    }
    if (ONLY.has('rss')) {
      // A fresh process, so the peak is that of serving only.
      await s.stop();
      s = await startServer({ DVX_DATA_DIR: dataDir, DVX_STORAGE: 'fs' });
      const before = vmHwm(s.child.pid!);
      const t1 = process.hrtime.bigint();
      const all = await Promise.all(Array.from({ length: 8 }, () => get(s.url, path)));
      const secs = Number(process.hrtime.bigint() - t1) / 1e9;
      for (const r of all) if (r.bytes !== SIZE) throw new Error(`short read ${r.bytes}`);
      figures.rssMiB = vmHwm(s.child.pid!) / (1 << 20);
      figures.aggregateMBps = (8 * SIZE) / MB / secs;
      report(`8 clients x ${(SIZE / (1 << 20)).toFixed(0)} MiB at once (fs): server peak RSS (VmHWM) ${(vmHwm(s.child.pid!) / (1 << 20)).toFixed(0)} MiB (idle after start: ${(before / (1 << 20)).toFixed(0)} MiB); aggregate ${(8 * SIZE / MB / secs).toFixed(0)} MB/s`);
    }
    await s.stop();
  }

  if (ONLY.has('azure')) {
    const az = await startAzurite();
    const container = 'bench';
    const s = await startServer({ DVX_DATA_DIR: join(work, 'az-data'), DVX_STORAGE: 'azure', AZURE_STORAGE_CONNECTION_STRING: az.connectionString, DVX_AZURE_CONTAINER: container });
    const { sha256 } = await upload(s.url, file);
    const path = `/api/v1/repos/bench/files/${sha256}`;
    const client = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(container);
    const packs: string[] = [];
    let packBytes = 0;
    for await (const b of client.listBlobsFlat({ prefix: 'packs/' })) {
      packs.push(b.name);
      packBytes += b.properties.contentLength ?? 0;
    }
    const direct = async () => {
      const t = process.hrtime.bigint();
      let bytes = 0;
      for (const name of packs) {
        const res = await client.getBlobClient(name).download();
        for await (const d of res.readableStreamBody as AsyncIterable<Buffer>) bytes += d.length;
      }
      return bytes / MB / (Number(process.hrtime.bigint() - t) / 1e9);
    };
    const viaServer = async () => {
      const r = await get(s.url, path);
      return r.bytes / MB / r.seconds;
    };
    await viaServer();
    await direct();
    const d: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < 3; i++) {
      v.push(await viaServer());
      d.push(await direct());
    }
    report(`azure (Azurite) GET through dvx-server: ${v.map((x) => x.toFixed(0)).join(', ')} MB/s (median ${median(v).toFixed(0)})`);
    report(`azure (Azurite) direct @azure/storage-blob download of the ${packs.length} packs (${(packBytes / (1 << 20)).toFixed(0)} MiB), streamed one after another: ${d.map((x) => x.toFixed(0)).join(', ')} MB/s (median ${median(d).toFixed(0)})`);
    figures.azureMBps = median(v);
    figures.directMBps = median(d);
    figures.azureRatio = median(v) / median(d);
    report(`ratio server / direct: ${(median(v) / median(d)).toFixed(2)}x`);
    await s.stop();
    await az.stop();
    rmSync(az.location, { recursive: true, force: true });
  }
  console.log('\n' + results.join('\n'));
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ size: SIZE, figures, lines: results }, null, 2));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
