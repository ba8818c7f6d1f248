import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, workspace } from './support/cli.ts';
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
