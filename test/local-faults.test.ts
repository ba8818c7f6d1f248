import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePack } from '../core/pack.ts';
import { loadHashing } from '../core/hash.ts';
import { DVX_BIN, dvx, dvxJson, dvxOk, git, gitRun, run, workspace } from './support/cli.ts';
import { deadPid } from './support/pids.ts';
import { seededBytes } from './support/prng.ts';

function packFiles(ws: string): string[] {
  const dir = join(ws, '.dvx/cache/packs');
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)).map((f) => join(dir, sub, f)));
}

/** The cache is consistent: fsck finds no damage (notes about leftovers are allowed). */
async function assertCacheConsistent(ws: string): Promise<void> {
  const r = await dvx(ws, ['fsck', '--json']);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.problems.filter((p: any) => p.severity === 'damage'), []);
  assert.equal(r.code, 0);
}

test('paths outside the working tree, missing paths and pointer files are refused, nothing stored', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, '..', `outside-${process.pid}.bin`), 'x');
  t.after(() => rmSync(join(ws, '..', `outside-${process.pid}.bin`), { force: true }));
  // git cannot be told to ignore a name with a line break (but inside a tracked directory it is fine)
  writeFileSync(join(ws, 'two\nlines.csv'), 'x');
  mkdirSync(join(ws, 'dir'));
  writeFileSync(join(ws, 'dir/two\nlines.csv'), 'y');
  mkdirSync(join(ws, 'attrs'));
  writeFileSync(join(ws, 'attrs/.gitattributes'), '*.csv text\n');
  writeFileSync(join(ws, 'dvx.yaml'), 'stages: {}\n');
  for (const [args, message] of [
    [['add', 'two\nlines.csv'], /"two\\nlines\.csv": a name with a line break cannot be listed in \.gitignore/],
    [['add', `../outside-${process.pid}.bin`], /outside the workspace/],
    [['add', '/etc/hostname'], /outside the workspace/],
    [['add', 'nope.csv'], /no such file or directory: nope\.csv/],
    [['add', '.git/config'], /inside \.git\//],
    [['add', '.dvx/config.yaml'], /inside \.dvx\//],
    [['add', '.gitignore'], /\.gitignore is \.gitignore, which git reads and must keep/],
    [['add', 'attrs/.gitattributes'], /attrs\/\.gitattributes is \.gitattributes, which git reads/],
    [['add', 'dvx.yaml'], /dvx\.yaml is dvx\.yaml, which the runner reads/],
    [['-C', 'nowhere', 'status'], /-C nowhere: no such directory/],
    [['-C', '.gitignore', 'status'], /-C \.gitignore: not a directory/],
  ] as const) {
    const r = await dvx(ws, [...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  for (const [args, message] of [
    [['runs', '--limit', 'abc'], /--limit must be a whole number of at least 1, got abc/],
    [['runs', '--status', 'bogus'], /--status bogus: not a run status; use one of running, succeeded/],
    [['get', 'notaurl', 'repo', 'a.csv'], /"notaurl" is not a URL[^]*http:\/\/localhost:8080/],
    [['get', 'http://u:p@127.0.0.1:9', 'repo', 'a.csv'], /do not put credentials in the URL/],
  ] as const) {
    const r = await dvx(ws, [...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message);
  }
  assert.equal(existsSync(join(ws, 'two\nlines.csv.dvx')), false);
  assert.equal(readFileSync(join(ws, '.gitignore'), 'utf8').includes('lines.csv'), false, 'no .gitignore line was written');
  await dvxOk(ws, ['add', 'dir']);
  assert.match(readFileSync(join(ws, 'dir.dvx'), 'utf8'), /^files: 1$/m);
  rmSync(join(ws, 'dir'), { recursive: true });
  await dvxOk(ws, ['checkout', 'dir']);
  assert.equal(readFileSync(join(ws, 'dir/two\nlines.csv'), 'utf8'), 'y');
  writeFileSync(join(ws, 'x.csv'), 'data');
  await dvxOk(ws, ['add', 'x.csv']);
  const r = await dvx(ws, ['add', 'x.csv.dvx']);
  assert.match(r.stderr, /x\.csv\.dvx is a pointer file/);
  assert.match(r.stderr, /dvx add x\.csv/);
  await assertCacheConsistent(ws);
});

test('data committed to git itself is refused with the command that fixes it', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'big.csv'), 'a,b\n1,2\n');
  git(ws, ['add', 'big.csv']);
  const r = await dvx(ws, ['add', 'big.csv']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /big\.csv is committed to git itself/);
  assert.match(r.stderr, /git rm -r --cached big\.csv/);
});

test('an unreadable file is reported by name, nothing is recorded', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'd'));
  writeFileSync(join(ws, 'd/ok.bin'), seededBytes(1, 100_000));
  writeFileSync(join(ws, 'd/secret.bin'), 'secret');
  chmodSync(join(ws, 'd/secret.bin'), 0o000);
  // root reads anything: run dvx as an unprivileged user to make the file really unreadable.
  const asUser = process.getuid?.() === 0;
  if (asUser) chownTree(ws, 65534);
  const r = asUser
    ? await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, DVX_BIN, 'add', 'd'], { cwd: ws, env: { HOME: ws } })
    : await dvx(ws, ['add', 'd']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /permission denied: cannot read d\/secret\.bin/);
  assert.ok(!existsSync(join(ws, 'd.dvx')));
  if (asUser) chownTree(ws, 0);
  await assertCacheConsistent(ws);
});

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}

test('hand-edited and truncated pointers are reported with the path and a fix; add rewrites them', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'a.csv'), 'a');
  writeFileSync(join(ws, 'b.csv'), 'b');
  await dvxOk(ws, ['add', 'a.csv', 'b.csv']);
  const a = readFileSync(join(ws, 'a.csv.dvx'), 'utf8');
  writeFileSync(join(ws, 'a.csv.dvx'), a.replace('size: 1', 'size: 2 # bigger'));
  writeFileSync(join(ws, 'b.csv.dvx'), readFileSync(join(ws, 'b.csv.dvx'), 'utf8').slice(0, 60));
  const s = await dvxJson(ws, ['status']);
  const by = Object.fromEntries(s.paths.map((p: any) => [p.path, p]));
  assert.equal(by['a.csv'].state, 'invalid');
  assert.match(by['a.csv'].error, /a\.csv\.dvx: size must be a whole number/);
  assert.equal(by['b.csv'].state, 'invalid');
  assert.match(by['b.csv'].error, /b\.csv\.dvx: .*(truncated|missing)/);
  rmSync(join(ws, 'a.csv'));
  const co = await dvx(ws, ['checkout', 'a.csv']);
  assert.equal(co.code, 1);
  assert.match(co.stderr, /a\.csv\.dvx/);
  assert.match(co.stderr, /git checkout -- a\.csv\.dvx|dvx add a\.csv/);
  // add restores a canonical pointer for the data that is there
  await dvxOk(ws, ['add', 'b.csv']);
  assert.equal((await dvxJson(ws, ['status', 'b.csv'])).paths[0].state, 'clean');

  // A pointer renamed with its data (`git mv`) still names the old file: the hint is to add it under the new name.
  renameSync(join(ws, 'b.csv.dvx'), join(ws, 'c d.csv.dvx'));
  renameSync(join(ws, 'b.csv'), join(ws, 'c d.csv'));
  const renamed = (await dvxJson(ws, ['status'])).paths.find((p: any) => p.path === 'c d.csv');
  assert.equal(renamed.state, 'invalid');
  assert.match(renamed.error, /c d\.csv\.dvx: names "b\.csv" but sits beside "c d\.csv" \(a renamed pointer file\?\)/);
  assert.match(renamed.hint, /`dvx add 'c d\.csv'` rewrites the pointer under its new name/);
  assert.match((await dvxOk(ws, ['add', 'c d.csv'])).stdout, /0 B new/);
  assert.equal((await dvxJson(ws, ['status', 'c d.csv'])).paths[0].state, 'clean');
});

test('a file that changes while it is being added is refused; the cache stays consistent', async (t) => {
  const ws = await workspace(t);
  const path = join(ws, 'growing.log');
  writeFileSync(path, seededBytes(2, 96 << 20));
  // A writer that keeps appending while dvx reads.
  const writer = spawn(process.execPath, ['-e', `const fs=require('fs');setInterval(()=>fs.appendFileSync(${JSON.stringify(path)}, 'x'.repeat(100)),1)`]);
  t.after(() => writer.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 100));
  const r = await dvx(ws, ['add', 'growing.log']);
  writer.kill('SIGKILL');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /growing\.log changed while it was being added/);
  assert.ok(!existsSync(join(ws, 'growing.log.dvx')));
  await assertCacheConsistent(ws);
});

test('a full disk fails the add with a clear error and leaves a consistent cache', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'big.bin'), seededBytes(3, 24 << 20));
  writeFileSync(join(ws, 'small.bin'), seededBytes(4, 100_000));
  // A private mount namespace with an 8 MiB tmpfs as the cache: real ENOSPC, gone when the script exits.
  const unshareArgs = process.getuid?.() === 0 ? ['-m'] : ['-rm'];
  const script = `
    set -u
    mount -t tmpfs -o size=8m tmpfs .dvx/cache || exit 99
    node "$DVX" add big.bin; echo "add-big=$?"
    node "$DVX" fsck --json > fsck.json; echo "fsck=$?"
    node "$DVX" add small.bin; echo "add-small=$?"
    rm -f small.bin; node "$DVX" checkout small.bin; echo "checkout=$?"
    ls .dvx/cache/tmp | wc -l | sed 's/^/tmpfiles=/'
  `;
  const r = await run('unshare', [...unshareArgs, 'sh', '-c', script], { cwd: ws, env: { DVX: DVX_BIN } });
  assert.doesNotMatch(r.stdout, /exit 99/);
  assert.match(r.stdout, /add-big=1/, r.stdout + r.stderr);
  assert.match(r.stderr, /no space left on device/);
  assert.match(r.stderr, /free some disk space/);
  assert.match(r.stdout, /fsck=0/);
  assert.match(r.stdout, /add-small=0/);
  assert.match(r.stdout, /checkout=0/);
  assert.match(r.stdout, /tmpfiles=0/);
  assert.ok(!existsSync(join(ws, 'big.bin.dvx')));
  const fsck = JSON.parse(readFileSync(join(ws, 'fsck.json'), 'utf8'));
  assert.deepEqual(fsck.problems, []);
});

test('a full disk under the working tree fails the checkout of that file only, naming it; no temp file is left; a retry with room succeeds', async (t) => {
  const ws = await workspace(t);
  const big = seededBytes(9, 24 << 20);
  mkdirSync(join(ws, 'dd'));
  writeFileSync(join(ws, 'dd/big.bin'), big);
  writeFileSync(join(ws, 'dd/small.txt'), 'small\n');
  await dvxOk(ws, ['add', 'dd']);
  rmSync(join(ws, 'dd'), { recursive: true });
  mkdirSync(join(ws, 'dd'));
  // The tracked directory on an 8 MiB tmpfs in a private mount namespace: real ENOSPC for the 24 MiB file.
  const unshareArgs = process.getuid?.() === 0 ? ['-m'] : ['-rm'];
  const script = `
    set -u
    mount -t tmpfs -o size=8m tmpfs dd || exit 99
    node "$DVX" checkout; echo "checkout=$?"
    ls -A dd | sed 's/^/left=/'
    node "$DVX" fsck --json > fsck.json; echo "fsck=$?"
  `;
  const r = await run('unshare', [...unshareArgs, 'sh', '-c', script], { cwd: ws, env: { DVX: DVX_BIN } });
  assert.doesNotMatch(r.stdout, /exit 99/);
  assert.match(r.stdout, /checkout=1/, r.stdout + r.stderr);
  assert.match(r.stderr, /dd\/big\.bin: no space left on device while writing dd\/big\.bin/);
  assert.match(r.stderr, /free some disk space and check it out again; the cache is unchanged/);
  assert.deepEqual(r.stdout.match(/^left=.*$/gm), ['left=small.txt'], 'the other file is restored; no partial file or temp file remains');
  assert.match(r.stdout, /fsck=0/);
  assert.deepEqual(JSON.parse(readFileSync(join(ws, 'fsck.json'), 'utf8')).problems, []);
  // Outside the namespace there is room: the same command finishes the job.
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'dd/big.bin')), big);
});

test('a damaged pack: fsck names the pack, the blob and the affected path; checkout refuses wrong bytes; repair salvages', async (t) => {
  const ws = await workspace(t);
  const good = seededBytes(5, 400_000);
  const victim = seededBytes(6, 400_000);
  writeFileSync(join(ws, 'good.bin'), good);
  writeFileSync(join(ws, 'victim.bin'), victim);
  await dvxOk(ws, ['add', 'good.bin']);
  await dvxOk(ws, ['add', 'victim.bin']);
  // Flip one bit in the first chunk of victim.bin's pack.
  const packs = packFiles(ws);
  const pack = packs.find((p) => readFileSync(p).includes(victim.subarray(0, 64)))!;
  const bytes = readFileSync(pack);
  bytes[bytes.indexOf(victim.subarray(0, 64)) + 10]! ^= 0x04;
  writeFileSync(pack, bytes);

  const f = await dvx(ws, ['fsck']);
  assert.equal(f.code, 1);
  assert.match(f.stdout, new RegExp(`DAMAGE: damaged blob [0-9a-f]{64}: in pack ${pack.slice(-64)} at offset \\d+`));
  assert.match(f.stdout, /affected tracked paths:\n {2}victim\.bin/);
  assert.doesNotMatch(f.stdout, /^ {2}good\.bin/m);
  assert.match(f.stderr, /dvx fsck --repair/);

  rmSync(join(ws, 'victim.bin'));
  const co = await dvx(ws, ['checkout', 'victim.bin']);
  assert.equal(co.code, 1);
  assert.match(co.stderr, /victim\.bin: the cached bytes hash to [0-9a-f]+, not [0-9a-f]+; the cache is damaged/);
  assert.equal(co.stderr.split('dvx fsck --repair').length - 1, 1, `the way out is said once: ${co.stderr}`);
  assert.ok(!existsSync(join(ws, 'victim.bin')));
  assert.deepEqual(readdirSync(ws).filter((n) => n.includes('dvx-tmp')), []);

  const rep = await dvx(ws, ['fsck', '--repair']);
  assert.match(rep.stdout, /repaired: rewrote \d+ intact blobs? of damaged pack/);
  // What was lost is still reported until the data is added again.
  const after = await dvxJson(ws, ['fsck']).catch(() => null);
  assert.equal(after, null, 'fsck still fails: a manifest lost a chunk');
  rmSync(join(ws, 'good.bin'));
  await dvxOk(ws, ['checkout', 'good.bin']);
  assert.deepEqual(readFileSync(join(ws, 'good.bin')), good);
  writeFileSync(join(ws, 'victim.bin'), victim);
  await dvxOk(ws, ['add', 'victim.bin']);
  await assertCacheConsistent(ws);
  rmSync(join(ws, 'victim.bin'));
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'victim.bin')), victim);
});

test('a damaged manifest and a truncated pack are named by fsck', async (t) => {
  await loadHashing();
  const ws = await workspace(t);
  writeFileSync(join(ws, 'a.bin'), seededBytes(7, 200_000));
  await dvxOk(ws, ['add', 'a.bin']);
  const [pack] = packFiles(ws);
  const bytes = readFileSync(pack!);
  const manifest = decodePack(bytes).entries.find((e) => e.type === 2)!;
  bytes[manifest.offset + 40]! ^= 1;
  writeFileSync(pack!, bytes);
  let f = await dvx(ws, ['fsck', '--json']);
  assert.equal(f.code, 1);
  let report = JSON.parse(f.stdout);
  assert.deepEqual(report.problems.map((p: any) => [p.kind, p.object]), [['damaged_blob', manifest.id]]);
  assert.deepEqual(report.affected, ['a.bin']);

  writeFileSync(pack!, bytes.subarray(0, bytes.length - 100));
  f = await dvx(ws, ['fsck', '--json']);
  report = JSON.parse(f.stdout);
  assert.equal(report.problems[0].kind, 'damaged_pack');
  assert.match(report.problems[0].detail, /index/);
});

test('a crash between publishing a pack and indexing it: fsck notes it, --repair indexes it', async (t) => {
  const ws = await workspace(t);
  const data = seededBytes(8, 300_000);
  writeFileSync(join(ws, 'a.bin'), data);
  await dvxOk(ws, ['add', 'a.bin']);
  // Lose the index (as if the process died before committing it) and leave a temp file behind.
  for (const f of readdirSync(join(ws, '.dvx/cache'))) if (f.startsWith('index.sqlite')) rmSync(join(ws, '.dvx/cache', f));
  writeFileSync(join(ws, '.dvx/cache/tmp/pack-123-abc'), 'partial');
  const f = await dvxJson(ws, ['fsck']);
  assert.deepEqual(f.problems.map((p: any) => p.kind).sort(), ['temp_file', 'unindexed_pack']);
  assert.ok(f.problems.every((p: any) => p.severity === 'note'));
  await dvxOk(ws, ['fsck', '--repair']);
  rmSync(join(ws, 'a.bin'));
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), data);
  appendFileSync(join(ws, 'a.bin'), 'more');
  await dvxOk(ws, ['add', 'a.bin']);
  await assertCacheConsistent(ws);
});

test('a checkout killed while writing: git, status and add ignore its temp file; the next checkout removes it', async (t) => {
  const ws = await workspace(t);
  const one = randomBytes(64 << 20);
  writeFileSync(join(ws, 'one.bin'), one);
  mkdirSync(join(ws, 'dd'));
  writeFileSync(join(ws, 'dd/big.bin'), seededBytes(12, 200_000));
  writeFileSync(join(ws, 'dd/small.txt'), 'small\n');
  await dvxOk(ws, ['add', 'one.bin', 'dd']);
  rmSync(join(ws, 'one.bin'));

  // Kill the checkout as soon as its temp file appears (it writes 64 MiB into it, then renames it).
  const child = spawn(process.execPath, [DVX_BIN, 'checkout', 'one.bin'], { cwd: ws, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const isTemp = (n: string) => n.startsWith('.one.bin.dvx-tmp-');
  let temp: string | undefined;
  for (const deadline = Date.now() + 20_000; !temp && Date.now() < deadline && !existsSync(join(ws, 'one.bin')); ) {
    temp = readdirSync(ws).find(isTemp);
    if (!temp) await new Promise((r) => setImmediate(r));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(temp, 'the checkout finished (or never started) before it could be killed');
  assert.ok(existsSync(join(ws, temp)), 'the killed checkout left its temp file');
  assert.ok(!existsSync(join(ws, 'one.bin')));

  // The same inside a tracked directory, from a process that is gone, beside one of a live process.
  const dead = deadPid();
  const deadTemp = `dd/.big.bin.dvx-tmp-${dead}-0123456789ab`;
  const liveTemp = `dd/.small.txt.dvx-tmp-${process.pid}-0123456789ab`;
  writeFileSync(join(ws, deadTemp), 'partial');
  writeFileSync(join(ws, liveTemp), 'being written');

  assert.doesNotMatch(git(ws, ['status', '--porcelain', '--untracked-files=all']), /dvx-tmp/);
  const status = await dvxJson(ws, ['status']);
  assert.deepEqual(status.paths, [{ path: 'dd', state: 'clean' }, { path: 'one.bin', state: 'missing' }]);
  const added = await dvxJson(ws, ['add', '--no-git-add', 'dd']);
  assert.equal(JSON.stringify(added).includes('dvx-tmp'), false);
  assert.match(readFileSync(join(ws, 'dd.dvx'), 'utf8'), /^files: 2$/m);

  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'one.bin')), one);
  assert.deepEqual(readdirSync(ws).filter(isTemp), []);
  assert.ok(!existsSync(join(ws, deadTemp)), 'the dead process\'s temp file is removed');
  assert.ok(existsSync(join(ws, liveTemp)), 'a live process\'s temp file stays');
  await assertCacheConsistent(ws);
});

test('gc killed while it rewrites a pack: the pack stays indexed until its rewrite is, so the next gc and a checkout find the data kept', async (t) => {
  const ws = await workspace(t);
  const keep = seededBytes(13, 24 << 20);
  writeFileSync(join(ws, 'keep.bin'), keep);
  writeFileSync(join(ws, 'drop.bin'), seededBytes(14, 4 << 20));
  // One add: both files in one pack, which gc must rewrite with keep.bin's blobs only.
  await dvxOk(ws, ['add', 'keep.bin', 'drop.bin']);
  git(ws, ['rm', '-q', '--cached', 'drop.bin.dvx']);
  rmSync(join(ws, 'drop.bin.dvx'));
  rmSync(join(ws, 'drop.bin'));

  // Kill gc as soon as the rewritten pack's temp file appears.
  const tmp = join(ws, '.dvx/cache/tmp');
  const child = spawn(process.execPath, [DVX_BIN, 'gc'], { cwd: ws, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done: number | null | undefined;
  void exited.then((code) => (done = code));
  let seen = false;
  while (!seen && done === undefined) {
    seen = existsSync(tmp) && readdirSync(tmp).length > 0;
    if (!seen) await new Promise((r) => setImmediate(r));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(seen, 'gc finished (or never rewrote a pack) before it could be killed');
  const left = await dvxJson(ws, ['fsck']);
  assert.deepEqual(left.problems.map((p: any) => p.kind), ['temp_file'], 'the old pack is still indexed; only the rewrite\'s temp file is left');

  // The next gc finishes the job; what the working tree's pointer names is still there.
  await dvxOk(ws, ['gc']);
  rmSync(join(ws, 'keep.bin'));
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'keep.bin')), keep);
  await assertCacheConsistent(ws);
  const fsck = await dvxJson(ws, ['fsck']);
  assert.deepEqual(fsck.problems, [], 'no pack is left unindexed');
});

test('gc first indexes a pack that a killed command published but did not index: the chunks its manifest names are kept', async (t) => {
  const ws = await workspace(t);
  const data = seededBytes(15, 72 << 20);
  writeFileSync(join(ws, 'a.bin'), data);
  await dvxOk(ws, ['add', 'a.bin']);
  // The last pack written (the smallest: what was left after the full ones) holds the file manifest.
  const [last] = packFiles(ws).sort((x, y) => readFileSync(x).length - readFileSync(y).length);
  // Made unindexed as a crash between publishing and indexing leaves it: fsck --repair forgets a missing pack, then it is back.
  renameSync(last!, `${last}.away`);
  await dvx(ws, ['fsck', '--repair']);
  renameSync(`${last}.away`, last!);
  const before = await dvxJson(ws, ['fsck']);
  assert.deepEqual(before.problems.map((p: any) => p.kind), ['unindexed_pack']);
  assert.deepEqual(before.unindexed, ['a.bin']);

  await dvxOk(ws, ['gc']);
  rmSync(join(ws, 'a.bin'));
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), data);
  assert.deepEqual((await dvxJson(ws, ['fsck'])).problems, []);
});

/** Overwrites a SQLite file's header (SQLite then says "file is not a database"). */
function damageHeader(path: string): void {
  const db = readFileSync(path);
  db.write('garbage garbage!', 0);
  writeFileSync(path, db);
}

/** Overwrites every page of a SQLite file but the first (header and schema): its tables' b-trees. */
function damagePages(path: string): void {
  const db = readFileSync(path);
  const pageSize = db.readUInt16BE(16);
  assert.ok(db.length / pageSize > 4, `only ${db.length / pageSize} pages`);
  db.fill(0x5a, pageSize);
  writeFileSync(path, db);
}

test('a damaged state.sqlite is moved aside with one warning and a new one started: status, add, checkout and a commit with hooks go on', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'imgs'));
  for (let i = 0; i < 400; i++) writeFileSync(join(ws, `imgs/${i}.png`), `image ${i}`);
  writeFileSync(join(ws, 'a.bin'), seededBytes(40, 20_000));
  await dvxOk(ws, ['add', 'imgs', 'a.bin']);
  git(ws, ['commit', '-qm', 'data']);
  const state = join(ws, '.dvx/state.sqlite');
  const aside = () => readdirSync(join(ws, '.dvx')).filter((n) => n.startsWith('state.sqlite.damaged-') && !/-(wal|shm)$/.test(n));

  writeFileSync(join(ws, 'b.bin'), 'b');
  rmSync(join(ws, 'a.bin'));
  writeFileSync(join(ws, 'code.txt'), 'code');
  git(ws, ['add', 'code.txt']);
  const steps: [string, () => Promise<{ code: number; stderr: string }>][] = [
    ['status', () => dvx(ws, ['status'])],
    ['add', () => dvx(ws, ['add', 'b.bin'])],
    ['checkout', () => dvx(ws, ['checkout'])],
    ['git commit', async () => gitRun(ws, ['commit', '-qm', 'code'])],
  ];
  for (const [i, [what, step]] of steps.entries()) {
    damageHeader(state);
    const r = await step();
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /warning: \S+\.dvx\/state\.sqlite was damaged \(file is not a database\); it is kept as \S+\.dvx\/state\.sqlite\.damaged-\S+ and a new one was started\. .*nothing tracked is lost/, what);
    assert.equal(r.stderr.match(/was damaged/g)!.length, 1, `${what}: warned once`);
    assert.equal(aside().length, i + 1, what);
  }
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), seededBytes(40, 20_000), 'checkout restored it');
  assert.deepEqual(git(ws, ['show', '--name-only', '--format=', 'HEAD']).trim().split('\n'), ['.gitignore', 'b.bin.dvx', 'code.txt']);
  assert.match(readFileSync(join(ws, '.dvx', aside()[0]!), 'latin1'), /^garbage garbage!/, 'the damaged file is kept as it was');
  assert.equal(git(ws, ['status', '--porcelain', '--ignored', '.dvx']).includes('damaged'), true, 'ignored by git');
  assert.doesNotMatch(git(ws, ['status', '--porcelain']), /damaged/);

  // Damage met past the header, by a query: the same.
  const again = await dvx(ws, ['status']);
  assert.doesNotMatch(again.stderr, /damaged/);
  damagePages(state);
  const inner = await dvxJson(ws, ['status']);
  assert.deepEqual(inner.paths.map((p: any) => [p.path, p.state]), [['a.bin', 'clean'], ['b.bin', 'clean'], ['imgs', 'clean']]);
  const quiet = await dvx(ws, ['status']);
  assert.equal(quiet.code, 0);
  assert.doesNotMatch(quiet.stderr, /damaged/);
  damagePages(state);
  const r = await dvx(ws, ['status']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /state\.sqlite was damaged \(database disk image is malformed\)/);
});

test('a damaged tracking.sqlite is left as it is: commands that use it fail, naming it and what moving it aside loses', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'dvx.yaml'), `stages:
  curve:
    cmd: >-
      seq 1 2000 | sed 's/.*/{"step": &, "loss": 0.5}/' >> "$DVX_METRICS"
`);
  git(ws, ['add', 'dvx.yaml']);
  git(ws, ['commit', '-qm', 'pipeline']);
  await dvxOk(ws, ['repro']);
  assert.equal((await dvxJson(ws, ['runs'])).runs.length, 1);
  const path = join(ws, '.dvx/tracking.sqlite');

  for (const [damage, says] of [[damagePages, 'database disk image is malformed'], [damageHeader, 'file is not a database']] as const) {
    damage(path);
    const before = readFileSync(path);
    for (const args of [['runs'], ['metrics', 'show'], ['repro', '--force']]) {
      const r = await dvx(ws, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, new RegExp(`the tracking store \\S+\\.dvx/tracking\\.sqlite is damaged \\(${says}\\)`), args.join(' '));
      assert.match(r.stderr, /move it aside .* not yet pushed are lost/, args.join(' '));
    }
    assert.deepEqual(readFileSync(path), before, 'nothing rewrites or moves it');
    assert.deepEqual(readdirSync(join(ws, '.dvx')).filter((n) => n.includes('damaged')), []);
  }
  // The way out the message gives works.
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, `${path}.damaged${suffix}`);
  await dvxOk(ws, ['repro', '--force']);
  assert.equal((await dvxJson(ws, ['runs'])).runs.length, 1);
});
