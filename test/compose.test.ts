import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, SETTING_NAMES } from '../server/config.ts';
import { REPO_ROOT } from './support/cli.ts';

/**
 * There is no Docker engine here: docker-compose.yml and the Dockerfile are
 * checked against the server's real configuration instead.
 */
const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'));
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const server = compose.services['dvx-server'];
const azurite = compose.services.azurite;
const env: Record<string, string> = server.environment;

test('the compose server environment uses only real settings, and they validate', () => {
  for (const name of Object.keys(env)) assert.ok((SETTING_NAMES as readonly string[]).includes(name), `${name} is not a dvx-server setting`);
  const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{(\w+):-([^}]*)\}/g, (_, _n, d) => d)]));
  const config = loadConfig(resolved);
  assert.equal(config.storage, 'azure');
  assert.match(env.AZURE_STORAGE_CONNECTION_STRING!, /BlobEndpoint=http:\/\/azurite:10000\//);
});

test('ports, EXPOSE and the health check agree with DVX_PORT', () => {
  const port = Number(env.DVX_PORT);
  assert.ok(server.ports.some((p: string) => String(p).endsWith(`:${port}`)), `a published port maps to ${port}`);
  assert.match(dockerfile, new RegExp(`^EXPOSE ${port}$`, 'm'));
  assert.match(dockerfile, new RegExp(`DVX_PORT=${port}`));
  assert.match(dockerfile, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.match(dockerfile, /^CMD \["node", "dist\/server\/bin\.js", "serve"\]$/m);
  assert.match(dockerfile, /^USER node$/m, 'runs as a non-root user');
  assert.match(dockerfile, /^FROM node:20/m);
  assert.match(dockerfile, /npm ci/);
  // The image runs scripts/build.mjs: every source directory it compiles must be copied in first.
  for (const dir of ['scripts', 'core', 'cli', 'server', 'web']) assert.match(dockerfile, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'), `the Dockerfile copies ${dir}/`);
});

test('Azurite runs the official image with the flags the server needs', () => {
  assert.match(azurite.image, /^mcr\.microsoft\.com\/azure-storage\/azurite(:|$)/);
  const cmd: string[] = azurite.command;
  assert.equal(cmd[0], 'azurite-blob');
  for (const flag of ['--blobHost', '--skipApiVersionCheck', '--disableTelemetry']) assert.ok(cmd.includes(flag), flag);
  assert.equal(cmd[cmd.indexOf('--blobHost') + 1], '0.0.0.0');
  const port = cmd.includes('--blobPort') ? cmd[cmd.indexOf('--blobPort') + 1] : '10000';
  assert.ok(azurite.ports.some((p: string) => String(p).endsWith(`:${port}`)));
  assert.ok(server.depends_on.includes('azurite'));
  assert.ok(server.volumes.length > 0 && azurite.volumes.length > 0, 'a volume for each');
});
