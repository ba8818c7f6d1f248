import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './cli.ts';

/**
 * A real Azurite (the Azure Blob emulator from node_modules), one process per
 * call, listening on a free port of 127.0.0.1.
 *
 * Data lives in a temp folder (not --inMemoryPersistence) so that restart()
 * keeps it: restart() stops the process gracefully (SIGTERM, so Azurite saves
 * its metadata) and starts a new one on the SAME port with the same folder;
 * the connection string stays valid. stop() alone simulates a storage outage.
 */
export const AZURITE_MAIN = join(REPO_ROOT, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  readonly port: number;
  readonly connectionString: string;
  readonly location: string;
  /** whether the process is running */
  readonly running: boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** stop and remove its folder (done by t.after when started with a test context) */
  dispose(): Promise<void>;
}

export function azuriteConnectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`;
}

function launch(location: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const args = [AZURITE_MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--skipApiVersionCheck', '--disableTelemetry', '--silent', '--location', location];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within 30 s:\n${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listen(?:s|ing) (?:on|at) http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before listening:\n${out}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startAzurite(t?: TestContext): Promise<Azurite> {
  const location = mkdtempSync(join(tmpdir(), 'dvx-azurite-'));
  let { child, port } = await launch(location, 0);
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    const gone = exited(child);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  const unref = (c: ChildProcess) => {
    c.unref();
    (c.stdout as unknown as { unref?: () => void }).unref?.();
    (c.stderr as unknown as { unref?: () => void }).unref?.();
  };
  const az: Azurite = {
    get port() {
      return port;
    },
    connectionString: azuriteConnectionString(port),
    location,
    get running() {
      return running;
    },
    stop,
    dispose: async () => {},
    async restart() {
      await stop();
      // The port was just freed; retry briefly if the OS has not released it yet.
      for (let attempt = 0; ; attempt++) {
        try {
          ({ child } = await launch(location, port));
          if (!t) unref(child);
          break;
        } catch (err) {
          if (attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      running = true;
    },
  };
  az.dispose = async () => {
    await stop();
    rmSync(location, { recursive: true, force: true });
  };
  if (t) t.after(az.dispose);
  else {
    // Shared by a whole test file: the file calls dispose() in an after() hook;
    // should it not, the process must still be able to exit, taking Azurite with it.
    unref(child);
    process.once('exit', () => child.kill('SIGKILL'));
  }
  return az;
}
