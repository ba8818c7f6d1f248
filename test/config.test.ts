import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, workspace } from './support/cli.ts';

/** `dvx config` and `dvx remote add|list|remove|default`, over the shared (committed) and the local config file. */
const shared = (ws: string) => readFileSync(join(ws, '.dvx/config.yaml'), 'utf8');
const local = (ws: string) => (existsSync(join(ws, '.dvx/config.local.yaml')) ? readFileSync(join(ws, '.dvx/config.local.yaml'), 'utf8') : '');

test('remotes: added, listed, made default and removed, each in the file it belongs to', async (t) => {
  const ws = await workspace(t);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /no remotes/);
  await dvxOk(ws, ['remote', 'add', 'origin', 'http://127.0.0.1:9/churn']);
  await dvxOk(ws, ['remote', 'add', 'mine', 'http://127.0.0.1:9/scratch', '--local']);
  assert.match(git(ws, ['diff', '--cached', '--name-only']), /\.dvx\/config\.yaml/, 'the shared config is staged');
  assert.deepEqual((await dvxJson(ws, ['remote', 'list'])).remotes, [
    { name: 'origin', url: 'http://127.0.0.1:9/churn', default: true },
    { name: 'mine', url: 'http://127.0.0.1:9/scratch', default: false },
  ]);
  assert.doesNotMatch(shared(ws), /scratch/, 'a --local remote stays out of the committed file');

  // A remote of this clone only can be its default, but never the project's.
  const chosen = await dvxOk(ws, ['remote', 'default', 'mine']);
  assert.match(chosen.stdout, /default remote is now mine \(for this clone only/);
  assert.match(shared(ws), /default_remote: origin/);
  assert.match(local(ws), /default_remote: mine/);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /^\* mine/m);
  await dvxOk(ws, ['remote', 'default', 'origin', '--local']);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /^\* origin/m);

  const none = await dvx(ws, ['remote', 'default', 'nope']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no remote named nope/);
  const wrongFile = await dvx(ws, ['remote', 'remove', 'mine']);
  assert.equal(wrongFile.code, 1);
  assert.match(wrongFile.stderr, /no remote named mine in .*config\.yaml[^]*add --local/);
  for (const [args, message] of [
    [['remote', 'add', 'origin', 'http://127.0.0.1:9/other'], /remote origin already exists/],
    [['remote', 'add', 'x', 'not-a-url'], /is not a URL/],
    [['remote', 'add', 'x', 'http://127.0.0.1:9/'], /names no repository/],
    [['remote', 'add', '-bad', 'http://127.0.0.1:9/r'], /unknown option '-bad'/],
  ] as const) {
    const r = await dvx(ws, [...args]);
    assert.equal(r.code, args[2] === '-bad' ? 2 : 1, args.join(' '));
    assert.match(r.stderr, message);
  }

  // Removing the shared remote also drops this clone's choice of it as the default.
  await dvxOk(ws, ['remote', 'remove', 'origin']);
  assert.doesNotMatch(shared(ws), /origin/);
  assert.doesNotMatch(local(ws), /default_remote: origin/);
  assert.deepEqual((await dvxJson(ws, ['remote', 'list'])).remotes.map((r: { name: string }) => r.name), ['mine']);
  await dvxOk(ws, ['remote', 'remove', 'mine', '--local']);
  assert.deepEqual((await dvxJson(ws, ['remote', 'list'])).remotes, []);
});

test('a default remote that names no remote (a teammate removed it) breaks only the commands that need a remote', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'a.bin'), 'data\n');
  await dvxOk(ws, ['add', 'a.bin']);
  await dvxOk(ws, ['remote', 'add', 'origin', 'http://127.0.0.1:9/churn']);
  await dvxOk(ws, ['remote', 'default', 'origin', '--local']);
  // What a pull of the teammate's commit does to the shared file:
  writeFileSync(join(ws, '.dvx/config.yaml'), 'version: 1\nremotes:\n  upstream:\n    url: http://127.0.0.1:9/up\n');
  assert.match((await dvxOk(ws, ['status'])).stdout, /1 tracked path, all up to date/);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /default remote is "origin", which is not configured/);
  const push = await dvx(ws, ['push']);
  assert.equal(push.code, 1);
  assert.match(push.stderr, /the default remote is "origin", but no remote of that name is configured/);
  assert.match(push.stderr, /dvx remote default <name>/);
  await dvxOk(ws, ['remote', 'default', 'upstream']);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /^\* upstream/m);
});

test('config: settings are read, set in either file, checked and unset; refusals say what is wrong and change nothing', async (t) => {
  const ws = await workspace(t);
  const unset = await dvx(ws, ['config', 'runner.jobs']);
  assert.equal(unset.code, 1);
  assert.match(unset.stderr, /runner\.jobs is not set/);
  assert.match((await dvxOk(ws, ['config', 'runner.jobs', '3'])).stdout, /runner\.jobs = 3 \(in config\.yaml\)/);
  assert.match(git(ws, ['diff', '--cached', '--name-only']), /\.dvx\/config\.yaml/, 'the shared config is staged');
  await dvxOk(ws, ['config', 'runner.jobs', '1', '--local']);
  assert.equal((await dvxOk(ws, ['config', 'runner.jobs'])).stdout.trim(), '1', 'the local file wins');
  assert.deepEqual(await dvxJson(ws, ['config', 'runner.jobs']), { key: 'runner.jobs', value: 1 });
  await dvxOk(ws, ['config', '--unset', 'runner.jobs', '--local']);
  assert.equal((await dvxOk(ws, ['config', 'runner.jobs'])).stdout.trim(), '3');

  await dvxOk(ws, ['remote', 'add', 'origin', 'http://127.0.0.1:9/churn']);
  await dvxOk(ws, ['remote', 'add', 'mine', 'http://127.0.0.1:9/scratch', '--local']);
  const before = [shared(ws), local(ws)];
  for (const [args, message] of [
    [['nosuch.key', '1'], /^dvx: error: nosuch\.key: no such setting \(the config has no "nosuch"\)/],
    [['runner.nosuch', '1'], /runner\.nosuch: no such setting \(runner has no "nosuch"\)/],
    [['runner.jobs', '0'], /runner\.jobs: Too small: expected number to be >=1/],
    [['runner.on_commit', 'sometimes'], /runner\.on_commit: Invalid option/],
    [['chunker.avg', '16384'], /chunker\.avg: chunker\.min must be set as well/],
    [['default_remote', 'nowhere'], /default_remote: no remote named nowhere[^]*dvx remote list/],
    [['default_remote', 'mine'], /default_remote: no remote named mine in the committed config[^]*mine is a remote of this clone only: add --local/],
    [['bad key!', '1'], /invalid key/],
  ] as const) {
    const r = await dvx(ws, ['config', ...args]);
    assert.equal(r.code, args[0] === 'bad key!' ? 2 : 1, args.join(' '));
    assert.match(r.stderr, message);
  }
  assert.deepEqual([shared(ws), local(ws)], before, 'refused settings changed neither file');
  await dvxOk(ws, ['config', 'default_remote', 'mine', '--local']);
  assert.match((await dvxOk(ws, ['remote', 'list'])).stdout, /^\* mine/m);
});

test('each config file says in its first line whether it is committed', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['config', '--local', 'runner.on_commit', 'off']);
  await dvxOk(ws, ['config', 'runner.on_commit', 'sync']);
  assert.match(readFileSync(join(ws, '.dvx/config.yaml'), 'utf8').split('\n')[0]!, /Commit this file/);
  const local = readFileSync(join(ws, '.dvx/config.local.yaml'), 'utf8').split('\n')[0]!;
  assert.doesNotMatch(local, /Commit this file/);
  assert.match(local, /this clone only/);
  assert.match(git(ws, ['status', '--porcelain']), /config\.yaml/);
  assert.doesNotMatch(git(ws, ['status', '--porcelain']), /config\.local\.yaml/);
});
