import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, parseBytes, parseDuration, SETTING_NAMES } from './config.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test('defaults are the embedded setup: fs storage, port 8080, ./dvx-data', () => {
  const c = loadConfig({});
  assert.equal(c.storage, 'fs');
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.match(c.dataDir, /dvx-data$/);
  assert.equal(c.gcGraceMs, 3_600_000);
  assert.equal(c.azure.container, 'dvx');
});

test('invalid settings are named, with what was given', () => {
  assert.deepEqual(problems({ DVX_STORAGE: 's3' }), ["DVX_STORAGE: must be fs or azure, got \"s3\""]);
  assert.match(problems({ DVX_PORT: '70000' })[0]!, /^DVX_PORT: must be a whole number from 0 to 65535, got "70000"/);
  assert.match(problems({ DVX_PORT: 'http' })[0]!, /^DVX_PORT:/);
  assert.match(problems({ DVX_ADMIN_TOKEN: 'short' })[0]!, /^DVX_ADMIN_TOKEN: must be at least 32 characters/);
  assert.match(problems({ DVX_GC_GRACE: 'soon' })[0]!, /^DVX_GC_GRACE: must be a duration/);
  assert.match(problems({ DVX_MAX_UPLOAD_BYTES: '10 parsecs' })[0]!, /^DVX_MAX_UPLOAD_BYTES:/);
  assert.match(problems({ DVX_LOG_LEVEL: 'loud' })[0]!, /^DVX_LOG_LEVEL: must be fatal, error/);
  assert.match(problems({ DVX_AZURE_CONTAINER: 'Bad_Name' })[0]!, /^DVX_AZURE_CONTAINER:/);
  assert.match(problems({ DVX_STORAGE: 'azure' })[0]!, /^AZURE_STORAGE_CONNECTION_STRING: DVX_STORAGE=azure needs/);
  assert.match(problems({ DVX_STORAGE: 'azure', DVX_AZURE_ACCOUNT_URL: 'not a url' })[0]!, /^DVX_AZURE_ACCOUNT_URL: must be an http\(s\) URL/);
  assert.match(problems({ AZURE_STORAGE_CONNECTION_STRING: 'nonsense' })[0]!, /^AZURE_STORAGE_CONNECTION_STRING: does not look like/);
  assert.equal(problems({ DVX_PORT: 'x', DVX_STORAGE: 'y' }).length, 2, 'every problem at once');
});

test('flags win over the environment', () => {
  assert.equal(loadConfig({ DVX_PORT: '1' }, { DVX_PORT: '2' }).port, 2);
});

test('sizes and durations have units', () => {
  assert.equal(parseBytes('10GiB'), 10 * 1024 ** 3);
  assert.equal(parseBytes('500MB'), 500e6);
  assert.equal(parseBytes('123'), 123);
  assert.equal(parseBytes('x'), undefined);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('90'), 90_000);
  assert.ok(SETTING_NAMES.includes('DVX_PORT'));
});
