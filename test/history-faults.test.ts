import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DVX_BIN, dvx, dvxJson, dvxOk, git, tempDir, workspace } from './support/cli.ts';
import { spawnSync } from 'node:child_process';
import { seededBytes } from './support/prng.ts';

/**
 * History that dvx did not write well: pointer files committed broken (a
 * merge committed with its conflict markers, a hand edit), read by the
 * commands that walk old commits (gc, log, diff). History cannot be fixed,
 * only added to, so one bad file must not stop them for good.
 */

const lines = (s: string, re: RegExp) => s.split('\n').filter((l) => re.test(l)).length;

/** f at v1 on main; branch wip commits f.dvx with a conflict marker ("oops"), then a valid pointer to v2 ("fix"). */
async function brokenBranch(t: Parameters<typeof workspace>[0]) {
  const ws = await workspace(t);
  const v1 = seededBytes(21, 300_000);
  const v2 = seededBytes(22, 310_000);
  writeFileSync(join(ws, 'f'), v1);
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['commit', '-qm', 'v1']);
  git(ws, ['checkout', '-qb', 'wip']);
  appendFileSync(join(ws, 'f.dvx'), '<<<<<<< HEAD\n');
  git(ws, ['commit', '-qam', 'oops']);
  const oops = git(ws, ['rev-parse', 'HEAD']).trim();
  writeFileSync(join(ws, 'f'), v2);
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['commit', '-qm', 'fix']);
  return { ws, v1, v2, oops };
}

test('gc skips an invalid pointer in an old commit with one warning, and keeps every version a valid pointer names', async (t) => {
  const { ws, v1, v2, oops } = await brokenBranch(t);
  git(ws, ['checkout', '-q', 'main']);
  // Garbage: a version added but never committed.
  writeFileSync(join(ws, 'f'), seededBytes(23, 200_000));
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['checkout', '-q', 'HEAD', '--', 'f.dvx']);

  const dry = await dvx(ws, ['gc', '-n']);
  assert.equal(dry.code, 0, dry.stderr);
  const r = await dvx(ws, ['gc', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).deletedBlobs > 0, r.stdout);
  assert.equal(lines(r.stderr, new RegExp(`^dvx: warning: commit ${oops.slice(0, 10)}: f\\.dvx is not a valid pointer \\(line 8 .*<<<<<<< HEAD.*\\); it names no data, so gc keeps nothing for it$`)), 1, r.stderr);
  assert.deepEqual((await dvxJson(ws, ['fsck'])).problems, []);

  // Both versions that valid pointers name are still in the cache.
  rmSync(join(ws, 'f'));
  await dvxOk(ws, ['checkout', 'f']);
  assert.deepEqual(readFileSync(join(ws, 'f')), v1);
  git(ws, ['checkout', '-q', 'wip', '--', 'f.dvx']);
  await dvxOk(ws, ['checkout', '--force', 'f']);
  assert.deepEqual(readFileSync(join(ws, 'f')), v2);
});

test('diff lists an invalid working-tree pointer as invalid, with its error, never as removed, and exits 1', async (t) => {
  const ws = await workspace(t);
  const v1 = seededBytes(31, 50_000);
  writeFileSync(join(ws, 'f'), v1);
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['commit', '-qm', 'v1']);
  writeFileSync(join(ws, 'g'), seededBytes(32, 1000));
  await dvxOk(ws, ['add', '-q', 'g']);

  writeFileSync(join(ws, 'f.dvx'), readFileSync(join(ws, 'f.dvx'), 'utf8').slice(0, 50));
  const text = await dvx(ws, ['diff']);
  assert.equal(text.code, 1, text.stderr);
  assert.match(text.stdout, /^invalid  f  \(working tree\): f\.dvx: is truncated \(no final newline\)\n {9}restore it with `git checkout -- f\.dvx`/m);
  assert.match(text.stdout, /^added    g  /m, 'the other changes are still listed');
  assert.doesNotMatch(text.stdout, /removed/);
  assert.match(text.stderr, /^dvx: error: 1 path could not be compared \(invalid pointer file\): f$/m);
  const json = await dvx(ws, ['diff', '--json']);
  assert.equal(json.code, 1);
  const d = JSON.parse(json.stdout);
  assert.deepEqual(d.removed, []);
  assert.deepEqual(d.added.map((x: any) => x.path), ['g']);
  assert.deepEqual(d.invalid.map((x: any) => [x.path, x.in]), [['f', 'working tree']]);
  assert.match(d.invalid[0].error, /is truncated/);

  // A merge that changed f on both sides leaves conflict markers in f.dvx, where pointers merge line by line
  // (the attributes of an older dvx init; its merge=binary now keeps ours whole).
  git(ws, ['checkout', '-q', 'f.dvx']);
  writeFileSync(join(ws, '.gitattributes'), '*.dvx text eol=lf -diff\n');
  git(ws, ['add', '.gitattributes']);
  git(ws, ['commit', '-qm', 'g']);
  git(ws, ['checkout', '-qb', 'other']);
  writeFileSync(join(ws, 'f'), seededBytes(33, 50_000));
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['commit', '-qm', 'f on other']);
  git(ws, ['checkout', '-q', 'main']);
  writeFileSync(join(ws, 'f'), seededBytes(34, 50_000));
  await dvxOk(ws, ['add', '-q', 'f']);
  git(ws, ['commit', '-qm', 'f on main']);
  assert.throws(() => git(ws, ['merge', '-q', 'other']));
  const conflict = await dvx(ws, ['diff']);
  assert.equal(conflict.code, 1, conflict.stderr);
  assert.match(conflict.stdout, /^invalid  f  \(working tree\): f\.dvx has unresolved merge conflict markers/m);
  assert.doesNotMatch(conflict.stdout, /removed/);
});

test('diff between revisions lists a path whose pointer is invalid at either end as invalid, naming the commit', async (t) => {
  const { ws, oops } = await brokenBranch(t);
  // Across the broken commit: both ends are valid.
  const across = await dvxJson(ws, ['diff', 'HEAD~2', 'HEAD']);
  assert.deepEqual(across.changed.map((x: any) => x.path), ['f']);
  assert.deepEqual(across.invalid, []);

  for (const [a, b, end] of [['HEAD~2', 'HEAD~1', 'HEAD~1'], ['HEAD~1', 'HEAD', 'HEAD~1']] as const) {
    const r = await dvx(ws, ['diff', a, b]);
    assert.equal(r.code, 1, `${a} ${b}: ${r.stderr}`);
    assert.equal(r.stdout, `invalid  f  (${end}): f.dvx in commit ${oops.slice(0, 10)} is not a valid pointer: line 8 is not "key: value": "<<<<<<< HEAD"\n`, `${a} ${b}`);
    const d = JSON.parse((await dvx(ws, ['diff', a, b, '--json'])).stdout);
    assert.deepEqual([d.added, d.removed, d.changed], [[], [], []], `${a} ${b}: neither added nor removed`);
    assert.deepEqual(d.invalid.map((x: any) => [x.path, x.in]), [['f', end]]);
  }

  // The same broken file at both ends is no change between them.
  git(ws, ['checkout', '-q', 'HEAD~1']);
  writeFileSync(join(ws, 'g'), 'g');
  await dvxOk(ws, ['add', '-q', 'g']);
  git(ws, ['commit', '-qm', 'g beside the broken f']);
  const same = await dvx(ws, ['diff', 'HEAD~1', 'HEAD', '--json']);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual([JSON.parse(same.stdout).added.map((x: any) => x.path), JSON.parse(same.stdout).invalid], [['g'], []]);
});

test('log -n takes only a whole number of at least 1: anything else is a usage error', async (t) => {
  const ws = await workspace(t);
  for (const v of ['1', '2', '3']) {
    writeFileSync(join(ws, 'f'), v);
    await dvxOk(ws, ['add', '-q', 'f']);
    git(ws, ['commit', '-qm', `v${v}`]);
  }
  for (const n of ['abc', '1.5', '-1', '0', '', '1e1', '0x2']) {
    const r = await dvx(ws, ['log', 'f', '-n', n]);
    assert.equal(r.code, 2, `-n ${JSON.stringify(n)}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`--max-count must be a whole number of at least 1, got ${n.replace('.', '\\.')}$`, 'm'));
  }
  assert.deepEqual((await dvxJson(ws, ['log', 'f', '-n', '2'])).versions.map((v: any) => v.message), ['v3', 'v2']);
  assert.deepEqual((await dvxJson(ws, ['log', 'f', '--max-count=1'])).versions.map((v: any) => v.message), ['v3']);
});

test('log into a pipe the reader closes early (`dvx log f | true`) exits 0, with no EPIPE trace', async (t) => {
  const ws = await workspace(t);
  for (const v of ['1', '2', '3']) {
    writeFileSync(join(ws, 'f'), v);
    await dvxOk(ws, ['add', '-q', 'f']);
    git(ws, ['commit', '-qm', `v${v}`]);
  }
  // `true` exits before dvx has started, so every write dvx makes meets a closed pipe.
  for (const args of ['log f', 'log --json f', 'status']) {
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${JSON.stringify(process.execPath)} ${JSON.stringify(DVX_BIN)} ${args} | true`], { cwd: ws, encoding: 'utf8' });
    assert.equal(r.status, 0, `dvx ${args}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/, `dvx ${args}`);
  }
});

test('log lists a commit whose pointer file is invalid as invalid, warns once naming the commit and file, and goes on', async (t) => {
  const { ws, v2, oops } = await brokenBranch(t);
  const r = await dvx(ws, ['log', 'f']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trimEnd().split('\n');
  assert.equal(out.length, 3, r.stdout);
  assert.match(out[0]!, /^[0-9a-f]{10} .* 303 KiB  [0-9a-f]{12}  +\? new  dvx test: fix$/);
  assert.match(out[1]!, new RegExp(`^${oops.slice(0, 10)}  .*  invalid  f\\.dvx is not a valid pointer  dvx test: oops$`));
  assert.match(out[2]!, /  293 KiB  [0-9a-f]{12}  +293 KiB new  dvx test: v1$/);
  assert.equal(r.stderr, `dvx: warning: commit ${oops.slice(0, 10)}: f.dvx is not a valid pointer (line 8 is not "key: value": "<<<<<<< HEAD"); listed as invalid: what it held there is unknown\n`);

  git(ws, ['checkout', '-q', 'main']);
  const log = await dvxJson(ws, ['log', 'f', '--rev', 'wip']);
  assert.deepEqual(log.versions.map((v: any) => v.message), ['fix', 'oops', 'v1']);
  assert.equal(log.versions[0].size, v2.length);
  assert.equal(log.versions[0].newBytes, null, 'new compared with what? the version before it is unknown');
  assert.deepEqual(log.versions[1].invalid, { pointer: 'f.dvx', error: 'line 8 is not "key: value": "<<<<<<< HEAD"' });
  assert.equal(log.versions[1].removed, false);
  assert.equal(log.versions[1].size, undefined);
  assert.deepEqual((await dvxJson(ws, ['log', 'f', '--rev', 'wip', '-n', '1'])).versions.map((v: any) => v.message), ['fix']);
});

test('log of a path inside a tracked directory lists the versions of the directory in which that path changed', async (t) => {
  const ws = await workspace(t);
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  mkdirSync(join(ws, 'd/s'), { recursive: true });
  const commit = async (message: string, files: Record<string, string | null>) => {
    for (const [p, content] of Object.entries(files)) if (content === null) rmSync(join(ws, p));
    else writeFileSync(join(ws, p), content);
    await dvxOk(ws, ['add', '-q', 'd']);
    git(ws, ['commit', '-qm', message]);
  };
  await commit('d1', { 'd/a': 'a\n', 'd/b': 'b\n', 'd/s/x': 's\n' });
  await commit('d2 a changed', { 'd/a': 'a2\n' });
  await commit('d3 b changed', { 'd/b': 'b2\n' });
  await commit('d4 s/y added', { 'd/s/y': 'y2\n' });
  await commit('d5 b removed', { 'd/b': null });

  const b = await dvxJson(ws, ['log', 'd/b']);
  assert.equal(b.path, 'd/b');
  assert.deepEqual(b.versions.map((v: any) => [v.message, v.removed, v.inside, v.size, v.sha256]), [
    ['d5 b removed', true, undefined, undefined, undefined],
    ['d3 b changed', false, 'd', 3, sha('b2\n')],
    ['d1', false, 'd', 2, sha('b\n')],
  ]);
  assert.deepEqual(b.versions.slice(1).map((v: any) => v.newBytes), [3, 2]);
  const text = (await dvxOk(ws, ['log', 'd/b'])).stdout.trimEnd().split('\n');
  assert.equal(text.length, 3);
  assert.match(text[0]!, /     removed  dvx test: d5 b removed$/);
  assert.match(text[1]!, new RegExp(`  3 B  ${sha('b2\n').slice(0, 12)}  +3 B new  dvx test: d3 b changed$`));

  const s = await dvxJson(ws, ['log', 'd/s']);
  assert.deepEqual(s.versions.map((v: any) => [v.message, v.files, v.size, v.sha256]), [
    ['d4 s/y added', 2, 5, null],
    ['d1', 1, 2, null],
  ]);
  assert.deepEqual((await dvxJson(ws, ['log', 'd/b', '-n', '1'])).versions.map((v: any) => v.message), ['d5 b removed']);
  assert.equal((await dvxJson(ws, ['log', 'd'])).versions.length, 5, 'the directory itself: every version');

  for (const p of ['d/nope', 'nope']) {
    const r = await dvxOk(ws, ['log', p]);
    assert.equal(r.stdout, `${p} is not tracked in any commit reachable from HEAD\n`);
    assert.deepEqual((await dvxJson(ws, ['log', p])).versions, []);
  }

  // A clone without the data has none of the tree manifests: whether d/b changed is unknown, and log says so.
  const clone = join(tempDir(t), 'clone');
  git(ws, ['clone', '-q', ws, clone]);
  const r = await dvx(clone, ['log', 'd/b']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 5, r.stdout);
  for (const l of lines) assert.match(l, /  unknown  d's tree manifest [0-9a-f]{12} is not in the local cache  dvx test: d\d/);
  assert.match(r.stderr, /^dvx: warning: whether d\/b changed in 5 commits is unknown: the tree manifest of d there is not in the local cache/);
  const j = await dvxJson(clone, ['log', 'd/b']);
  assert.ok(j.versions.every((v: any) => /^[0-9a-f]{64}$/.test(v.unknown.manifest) && v.inside === 'd' && v.size === undefined), JSON.stringify(j));
  // With the newest version's manifest but not its parent's, the newest commit is still unknown (d/b may have been gone before it), naming the missing manifest.
  mkdirSync(join(clone, 'd/s'), { recursive: true });
  for (const [p, content] of Object.entries({ 'd/a': 'a2\n', 'd/s/x': 's\n', 'd/s/y': 'y2\n' })) writeFileSync(join(clone, p), content);
  await dvxOk(clone, ['add', '-q', 'd']);
  assert.equal(git(clone, ['status', '--porcelain', 'd.dvx']), '', 'the same version as HEAD');
  const parent = /^manifest: (.*)$/m.exec(git(clone, ['show', 'HEAD~1:d.dvx']))![1];
  const first = (await dvxJson(clone, ['log', 'd/b'])).versions[0];
  assert.deepEqual([first.message, first.unknown?.manifest], ['d5 b removed', parent]);
});
