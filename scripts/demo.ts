// `npm run demo`: the whole dvx story on the embedded defaults (dvx-server with
// SQLite and a local data folder, no cloud account), in a temp folder:
// track data, commit (the pipeline re-runs), push, change the raw data, commit
// again (only the stale stages re-run), fetch a version over plain HTTP, clone
// elsewhere and pull, and print the lineage of the model. `--serve` keeps the
// server (and its web UI) running at the end; `--keep` keeps the files.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const DVX = join(root, 'dist', 'dvx', 'dvx.js');
const SERVER = join(root, 'dist', 'server', 'bin.js');
const keep = process.argv.includes('--keep');
const serve = process.argv.includes('--serve');
const base = mkdtempSync(join(tmpdir(), 'dvx-demo-'));
const env = { ...process.env, DVX_NO_PROGRESS: '1', GIT_AUTHOR_NAME: 'Dana Scientist', GIT_AUTHOR_EMAIL: 'dana@example.com', GIT_COMMITTER_NAME: 'Dana Scientist', GIT_COMMITTER_EMAIL: 'dana@example.com', XDG_CONFIG_HOME: join(base, 'config') };
let server: ChildProcess | undefined;

function step(title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

function sh(cwd: string, cmd: string, args: string[], extraEnv: Record<string, string> = {}): string {
  process.stdout.write(`\x1b[2m$ ${[cmd === process.execPath ? 'node' : cmd, ...args.map((a) => (a === DVX ? 'dvx' : a))].join(' ')}\x1b[0m\n`);
  const out = execFileSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (out.trim()) process.stdout.write(out.trimEnd().split('\n').map((l) => `  ${l}`).join('\n') + '\n');
  return out;
}

/** Runs a command that writes to stderr too (git hooks do), showing both. */
function shAll(cwd: string, cmd: string, args: string[]): void {
  process.stdout.write(`\x1b[2m$ ${[cmd, ...args].join(' ')}\x1b[0m\n`);
  const r = spawnSyncAll(cwd, cmd, args);
  const out = (r.stdout + r.stderr).trimEnd();
  if (out) process.stdout.write(out.split('\n').map((l) => `  ${l}`).join('\n') + '\n');
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

function spawnSyncAll(cwd: string, cmd: string, args: string[]) {
  try {
    const stdout = execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const dvx = (cwd: string, ...args: string[]) => sh(cwd, process.execPath, [DVX, ...args]);

async function startServer(dataDir: string): Promise<{ url: string; adminToken: string }> {
  const adminToken = `demo-admin-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  server = spawn(process.execPath, [SERVER, 'serve'], { env: { ...env, DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_DATA_DIR: dataDir, DVX_ADMIN_TOKEN: adminToken, DVX_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        try {
          const j = JSON.parse(line);
          if (j.msg === 'listening') resolve(String(j.url).replace('//localhost:', '//127.0.0.1:'));
        } catch {
          // partial line
        }
      }
    });
    server!.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    server!.on('exit', (code) => reject(new Error(`dvx-server exited (${code}):\n${out}`)));
  });
  return { url, adminToken };
}

async function main(): Promise<void> {
  step('Start dvx-server on the embedded defaults (SQLite + a local data folder)');
  const { url } = await startServer(join(base, 'server-data'));
  process.stdout.write(`  dvx-server listening on ${url}, data in ${join(base, 'server-data')}\n`);
  const token = JSON.parse(sh(base, process.execPath, [SERVER, 'token', 'create', '--repo', 'customers', '--scope', 'write', '--json'], { DVX_DATA_DIR: join(base, 'server-data') })).token as string;

  step('A project: git, dvx, the customers pipeline and its raw data');
  const project = join(base, 'project');
  const bare = join(base, 'origin.git');
  mkdirSync(project);
  sh(base, 'git', ['init', '-q', '--bare', '-b', 'main', bare]);
  sh(project, 'git', ['init', '-q', '-b', 'main']);
  sh(project, 'git', ['remote', 'add', 'origin', bare]);
  for (const f of readdirSync(join(root, 'examples', 'customers'))) cpSync(join(root, 'examples', 'customers', f), join(project, f));
  dvx(project, 'init');
  dvx(project, 'install');
  dvx(project, 'config', 'runner.on_commit', 'sync');
  dvx(project, 'config', 'runner.autocommit', 'true');
  sh(project, 'python3', ['generate.py', 'data/raw/customers.csv', '--rows', '50000', '--version', '1']);
  dvx(project, 'add', 'data/raw/customers.csv');
  dvx(project, 'remote', 'add', 'origin', `${url}/customers`);
  sh(project, process.execPath, [DVX, 'login', 'origin', '--token', token]);

  step('Commit: the post-commit hook runs the pipeline (validate, train, evaluate) and commits its outputs');
  sh(project, 'git', ['add', '-A']);
  shAll(project, 'git', ['commit', '-q', '-m', 'customers v1 and the churn pipeline']);
  sh(project, 'git', ['log', '--oneline']);
  dvx(project, 'runs', '-n', '3');

  step('Push: the pre-push hook uploads the data and records the commits on the server');
  shAll(project, 'git', ['push', '-q', 'origin', 'main']);
  shAll(project, 'git', ['tag', 'v1']);
  shAll(project, 'git', ['push', '-q', 'origin', 'v1']);

  step('New raw data: the next commit re-runs only what became stale');
  sh(project, 'python3', ['generate.py', 'data/raw/customers.csv', '--rows', '50000', '--version', '2']);
  dvx(project, 'status');
  dvx(project, 'add', 'data/raw/customers.csv');
  shAll(project, 'git', ['commit', '-q', '-m', 'customers v2']);
  dvx(project, 'runs', '-n', '3');
  dvx(project, 'log', 'data/raw/customers.csv');
  dvx(project, 'metrics', 'diff', 'v1', 'HEAD');
  shAll(project, 'git', ['push', '-q', 'origin', 'main']);

  step('Any HTTP client: the model at the tag v1 and at main, with a plain GET');
  for (const ref of ['v1', 'main']) {
    const res = await fetch(`${url}/api/v1/repos/customers/files/${ref}/models/churn-model.json`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    process.stdout.write(`  GET .../files/${ref}/models/churn-model.json -> ${res.status}, ${body.length} bytes, ETag ${res.headers.get('etag')}\n`);
  }
  const history = (await (await fetch(`${url}/api/v1/repos/customers/history?path=data/raw/customers.csv`, { headers: { authorization: `Bearer ${token}` } })).json()) as { versions: { commit: string; size: number; newBytes: number; message: string }[] };
  for (const v of history.versions) process.stdout.write(`  ${v.commit.slice(0, 8)}  ${v.size} bytes, ${v.newBytes} new  ${v.message.split('\n')[0]}\n`);

  step('Another machine: clone, install the hooks, pull the data');
  const clone = join(base, 'clone');
  sh(base, 'git', ['clone', '-q', bare, clone]);
  dvx(clone, 'install');
  dvx(clone, 'pull');
  sh(clone, 'sha256sum', ['data/raw/customers.csv', 'models/churn-model.json']);
  sh(project, 'sha256sum', ['data/raw/customers.csv', 'models/churn-model.json']);

  step('Lineage: which data versions produced the model');
  dvx(project, 'lineage', 'models/churn-model.json');
  dvx(project, 'models', 'register', 'churn', 'models/churn-model.json', '--alias', 'production');
  dvx(project, 'push');

  step('The web UI: datasets, history, runs, metrics, lineage and models in a browser');
  process.stdout.write(`  ${url}/  (sign in with the token ${token})\n`);
  if (serve) {
    process.stdout.write('  --serve: the server keeps running until Ctrl-C\n');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }

  step('Done');
  process.stdout.write(`  server: ${url} (stopping now); files: ${base}${keep ? '' : ' (removed; pass --keep to keep them)'}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    server?.kill('SIGTERM');
    if (!keep) rmSync(base, { recursive: true, force: true });
  });
