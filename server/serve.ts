import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createApp } from './http/app.ts';
import { Metrics } from './http/metrics.ts';
import { createLogger } from './logger.ts';
import { StorageUnavailable } from './storage/errors.ts';
import { Store } from './store/store.ts';

/**
 * `dvx-server serve`: opens the store, listens, and logs one JSON line with
 * msg "listening" and the `url` (tests and scripts parse it; DVX_PORT=0 picks
 * a free port). Storage that does not answer at start is not fatal: requests
 * needing it get 503 until it is back.
 */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const store = await Store.open(config);
  const stale = store.tmp.sweepStale();
  if (stale > 0) logger.info({ removed: stale }, 'removed temp files left by processes that are gone');
  try {
    await store.backend.init();
  } catch (err) {
    if (!(err instanceof StorageUnavailable)) throw err;
    logger.warn({ err: { message: err.message } }, 'storage does not answer yet; serving 503 until it does');
  }
  const generated = !config.adminToken && !store.tokens.hasAdmin() ? store.tokens.create({ scope: 'admin', repo: '*', description: 'generated at first start' }).token : undefined;

  const metrics = new Metrics();
  const app = createApp(store, logger, metrics);
  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 0, highWaterMark: 1 << 20 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, storage: config.storage, location: store.backend.location, dataDir: config.dataDir }, 'listening');
  printUsage(url, generated, Boolean(config.adminToken));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    server.close(() => {
      void store.close().finally(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** How to use the server, on stderr (stdout carries only JSON log lines). */
function printUsage(url: string, generatedToken: string | undefined, bootstrap: boolean): void {
  const lines = ['', `dvx-server is listening on ${url}`];
  if (generatedToken) {
    lines.push('', 'No admin token was configured, so one was created. It is shown only this once:', '', `    ${generatedToken}`, '');
  } else if (!bootstrap) {
    lines.push('', 'Tokens: `dvx-server token list`; a new one: `dvx-server token create --repo <repo> --scope write`.');
  }
  lines.push(
    'In a git repository tracked with dvx:',
    `    dvx remote add origin ${url}/<repo>`,
    '    dvx login origin        # paste a token',
    '    dvx push',
    `Plain HTTP: curl -H "Authorization: Bearer <token>" ${url}/api/v1/repos`,
    '',
  );
  process.stderr.write(lines.join('\n') + '\n');
}
