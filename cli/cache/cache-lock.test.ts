import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheLock } from './cache-lock.ts';
import { deadPid, withLivePid } from '../../test/support/pids.ts';

function lockFiles(cache: string): string[] {
  return readdirSync(join(cache, 'locks')).sort();
}

test('cache lock: gc is kept out while another live command holds the cache, and a command is kept out while gc runs', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'dvx-lock-'));
  try {
    mkdirSync(join(cache, 'locks'));
    await withLivePid((pid) => {
      writeFileSync(join(cache, 'locks', `shared-${pid}-00000000`), String(pid));
      assert.throws(() => CacheLock.exclusive(cache), (e: Error & { code?: string }) => e.code === 'cache_busy' && e.message.includes(`pid ${pid}`));
      // the refused gc left nothing behind, and the live command's lock is untouched
      assert.deepEqual(lockFiles(cache), [`shared-${pid}-00000000`]);
      rmSync(join(cache, 'locks', `shared-${pid}-00000000`));

      writeFileSync(join(cache, 'locks', 'gc'), String(pid));
      assert.throws(() => CacheLock.shared(cache), (e: Error & { code?: string }) => e.code === 'cache_busy' && /dvx gc/.test(e.message));
      assert.throws(() => CacheLock.exclusive(cache), (e: Error & { code?: string }) => e.code === 'cache_busy' && e.message.includes(`pid ${pid}`));
      assert.deepEqual(lockFiles(cache), ['gc']);
    });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('cache lock: locks of crashed processes never keep anyone out, and gc removes them', () => {
  const cache = mkdtempSync(join(tmpdir(), 'dvx-lock-'));
  try {
    mkdirSync(join(cache, 'locks'));
    const dead = deadPid();
    const stale = `shared-${dead}-0badc0de`;
    writeFileSync(join(cache, 'locks', stale), String(dead));
    writeFileSync(join(cache, 'locks', 'gc'), String(deadPid()));

    // a crashed gc does not keep a command out
    const user = CacheLock.shared(cache);
    assert.equal(lockFiles(cache).filter((n) => n.startsWith('shared-')).length, 2);
    user.release();
    assert.deepEqual(lockFiles(cache), ['gc', stale]);

    // nor a crashed command gc; gc takes over the dead gc's file and removes the dead command's
    const gc = CacheLock.exclusive(cache);
    assert.deepEqual(lockFiles(cache), ['gc']);
    gc.release();
    assert.deepEqual(lockFiles(cache), []);
    assert.ok(existsSync(join(cache, 'locks')));
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('cache lock: this process\'s own locks do not keep its gc out', () => {
  const cache = mkdtempSync(join(tmpdir(), 'dvx-lock-'));
  try {
    const mine = CacheLock.shared(cache);
    const gc = CacheLock.exclusive(cache);
    assert.equal(lockFiles(cache).length, 2, 'its own shared lock stays');
    gc.release();
    mine.release();
    assert.deepEqual(lockFiles(cache), []);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
