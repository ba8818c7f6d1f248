import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startAzurite, type Azurite } from './azurite.ts';
import { hookedWorkspace, REPO_ROOT, run, type RunResult } from './cli.ts';
import { request } from './http.ts';

/**
 * A real dvx-server process (the compiled dist/server/bin.js, built by
 * `npm test`) on a free port with a temp data folder, against the fs backend
 * or a real Azurite. Every HTTP integration test runs once per backend:
 *
 *   for (const backend of BACKENDS) test(`... (${backend})`, async (t) => { const s = await startServer(t, { backend }); ... });
 *
 * restart() starts a new process on the same data folder and the same Azurite
 * (the port, hence `url`, may change); kill() sends a signal and waits for the
 * process to exit. Admin commands run with the server's environment through
 * admin() (token() uses `dvx-server token create`).
 */
export const BACKENDS = ['fs', 'azure'] as const;
export type Backend = (typeof BACKENDS)[number];
export const SERVER_BIN = join(REPO_ROOT, 'dist', 'server', 'bin.js');

export interface TestServer {
  readonly url: string;
  readonly adminToken: string;
  readonly dataDir: string;
  readonly backend: Backend;
  readonly env: Record<string, string>;
  readonly azurite: Azurite | undefined;
  readonly pid: number;
  /** stdout and stderr of every process started so far */
  logs(): string;
  token(repo: string, scope: 'read' | 'write' | 'admin'): Promise<string>;
  admin(args: string[]): Promise<RunResult>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  backend: Backend;
  env?: Record<string, string>;
  /** share one Azurite between servers (each server gets its own container) */
  azurite?: Azurite;
}

function waitListening(child: ChildProcess, log: (s: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let all = '';
    const timer = setTimeout(() => reject(new Error(`dvx-server did not log "listening" within 30 s:\n${all}`)), 30_000);
    const onData = (d: Buffer) => {
      const s = d.toString();
      log(s);
      all += s;
      buf += s;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === 'listening' && typeof j.url === 'string') {
            clearTimeout(timer);
            resolve(j.url.replace('//localhost:', '//127.0.0.1:'));
            return;
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      log(d.toString());
      all += d.toString();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`dvx-server exited (${code ?? signal}) before listening:\n${all}`));
    });
  });
}

export async function startServer(t: TestContext, opts: ServerOptions): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dvx-server-'));
  const adminToken = `admin-${randomBytes(24).toString('hex')}`;
  let azurite = opts.azurite;
  if (opts.backend === 'azure' && !azurite) azurite = await startAzurite(t);
  const env: Record<string, string> = {
    DVX_PORT: '0',
    DVX_HOST: '127.0.0.1',
    DVX_DATA_DIR: dataDir,
    DVX_STORAGE: opts.backend,
    DVX_ADMIN_TOKEN: adminToken,
    DVX_LOG_LEVEL: 'info',
    ...(opts.backend === 'azure'
      ? {
          AZURE_STORAGE_CONNECTION_STRING: azurite!.connectionString,
          DVX_AZURE_CONTAINER: `dvx-${randomBytes(6).toString('hex')}`,
          DVX_AZURE_MAX_TRIES: '2',
          DVX_AZURE_TRY_TIMEOUT_MS: '5000',
          DVX_AZURE_RETRY_DELAY_MS: '100',
        }
      : {}),
    ...opts.env,
  };
  let output = '';
  let child: ChildProcess;
  let url = '';
  const launch = async () => {
    child = spawn(process.execPath, [SERVER_BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await waitListening(child, (s) => {
      output += s;
      if (output.length > 4 << 20) output = output.slice(-(2 << 20));
    });
  };
  await launch();
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await gone;
  };
  const admin = (args: string[]) => run(process.execPath, [SERVER_BIN, ...args], { cwd: dataDir, env });
  const server: TestServer = {
    get url() {
      return url;
    },
    adminToken,
    dataDir,
    backend: opts.backend,
    env,
    azurite,
    get pid() {
      return child.pid!;
    },
    logs: () => output,
    async token(repo, scope) {
      const r = await admin(['token', 'create', '--repo', repo, '--scope', scope, '--json']);
      if (r.code !== 0) throw new Error(`token create failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout).token as string;
    },
    admin,
    kill,
    async restart() {
      await kill('SIGTERM');
      await launch();
    },
    stop: () => kill('SIGTERM'),
  };
  t.after(async () => {
    await kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

/**
 * A dvx-server (local folder), write and read tokens for `repo`, and a
 * workspace with dvx's hooks that pushes to a bare git remote `origin` and to
 * that server (test/support/cli.ts hookedWorkspace); `env` carries the write token.
 */
export async function hookedServerWorkspace(t: TestContext, repo: string): Promise<{ server: TestServer; token: string; read: string; env: Record<string, string>; ws: string; bare: string }> {
  const server = await startServer(t, { backend: 'fs' });
  const token = await server.token(repo, 'write');
  const read = await server.token(repo, 'read');
  const { ws, bare } = await hookedWorkspace(t, `${server.url}/${repo}`);
  return { server, token, read, env: { DVX_TOKEN: token }, ws, bare };
}

/** The refs the server has recorded for `repo`, by name. */
export async function serverRefs(server: TestServer, token: string, repo: string): Promise<Record<string, string>> {
  const a = await request(server.url, `/api/v1/repos/${repo}/refs`, { token });
  assert.equal(a.status, 200, a.text());
  return Object.fromEntries((a.json().refs as { name: string; sha: string }[]).map((r) => [r.name, r.sha]));
}
