import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, workspace } from './support/cli.ts';
import { seededBytes } from './support/prng.ts';

test('import-lfs moves Git LFS files to dvx, verified against their oids', async (t) => {
  const ws = await workspace(t);
  git(ws, ['lfs', 'install', '--local']);
  git(ws, ['lfs', 'track', '*.bin']);
  mkdirSync(join(ws, 'models'));
  const a = seededBytes(1, 300_000);
  const b = seededBytes(2, 200_000);
  writeFileSync(join(ws, 'models/a.bin'), a);
  writeFileSync(join(ws, 'b.bin'), b);
  writeFileSync(join(ws, 'code.py'), 'print(1)\n');
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'lfs files']);
  assert.match(git(ws, ['show', 'HEAD:b.bin']), /^version https:\/\/git-lfs/);

  // Not smudged: the working tree holds the LFS pointer, the object is in .git/lfs.
  writeFileSync(join(ws, 'b.bin'), git(ws, ['show', 'HEAD:b.bin']));
  const r = await dvxJson(ws, ['import-lfs']);
  assert.deepEqual(r.imported.map((x: any) => x.path).sort(), ['b.bin', 'models/a.bin']);
  assert.equal(r.attributesUpdated, true);
  assert.doesNotMatch(readFileSync(join(ws, '.gitattributes'), 'utf8'), /filter=lfs/);
  assert.deepEqual(readFileSync(join(ws, 'b.bin')), b);
  git(ws, ['commit', '-qm', 'to dvx']);
  assert.match(git(ws, ['show', 'HEAD:models/a.bin.dvx']), /type: file\nsize: 300000\n/);
  assert.equal(git(ws, ['ls-files', 'b.bin']).trim(), '');
  assert.equal(git(ws, ['check-ignore', 'b.bin']).trim(), 'b.bin');
  rmSync(join(ws, 'models/a.bin'));
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'models/a.bin')), a);
  // Nothing left to import.
  const again = await dvx(ws, ['import-lfs']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no Git LFS files/);
});

test('import-lfs refuses when an object is not available, changing nothing', async (t) => {
  const ws = await workspace(t);
  git(ws, ['lfs', 'install', '--local']);
  git(ws, ['lfs', 'track', '*.bin']);
  writeFileSync(join(ws, 'x.bin'), seededBytes(3, 50_000));
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'lfs']);
  writeFileSync(join(ws, 'x.bin'), git(ws, ['show', 'HEAD:x.bin']));
  rmSync(join(ws, '.git/lfs/objects'), { recursive: true });
  const r = await dvx(ws, ['import-lfs']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /content of x\.bin .* is not here/);
  assert.match(r.stderr, /git lfs pull/);
  assert.match(git(ws, ['ls-files', 'x.bin']), /x\.bin/);
  assert.match(readFileSync(join(ws, '.gitattributes'), 'utf8'), /filter=lfs/);
});
