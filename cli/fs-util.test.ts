import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { isDvxTemp, isStaleDvxTemp, removeStaleTemps, tempPathBeside } from './fs-util.ts';
import { deadPid, withLivePid } from '../test/support/pids.ts';

test('temp names: made beside the file with this pid, recognised, and stale only when their writer is gone', async () => {
  const tmp = tempPathBeside('/data/raw/customers.csv');
  assert.equal(dirname(tmp), '/data/raw');
  assert.match(basename(tmp), new RegExp(`^\\.customers\\.csv\\.dvx-tmp-${process.pid}-[0-9a-f]{12}$`));
  assert.ok(isDvxTemp(basename(tmp)));
  assert.equal(isStaleDvxTemp(basename(tmp)), false, 'this process is writing it');

  assert.ok(isStaleDvxTemp(`.a.bin.dvx-tmp-${deadPid()}-0123456789ab`));
  assert.ok(isStaleDvxTemp('.a.bin.dvx-tmp-0123456789ab'), 'older versions wrote no pid: nothing can still be writing it');
  await withLivePid((live) => assert.equal(isStaleDvxTemp(`.a.bin.dvx-tmp-${live}-0123456789ab`), false));
  // a user's files that only look similar are data
  for (const name of ['a.bin.dvx-tmp-0123456789ab', '.a.bin.dvx-tmp-0123456789', '.a.bin.dvx-tmp-12-0123456789AB', '.a.bin.dvx-tmp-12-0123456789abc', '.dvx-tmp-12-0123456789ab', 'a.bin', '.a.bin.dvx']) {
    assert.equal(isDvxTemp(name), false, name);
    assert.equal(isStaleDvxTemp(name), false, name);
  }
});

test('removeStaleTemps deletes crashed writers\' temp files and nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-temps-'));
  try {
    const dead = deadPid();
    const names = [`.a.bin.dvx-tmp-${dead}-0123456789ab`, '.b.bin.dvx-tmp-0123456789ab', `.c.bin.dvx-tmp-${process.pid}-0123456789ab`, 'a.bin', '.hidden'];
    for (const n of names) writeFileSync(join(dir, n), 'x');
    assert.deepEqual(removeStaleTemps(dir).sort(), [names[1], names[0]].sort());
    assert.deepEqual(readdirSync(dir).sort(), [names[2], names[3], names[4]].sort());
    assert.deepEqual(removeStaleTemps(join(dir, 'missing')), []);
    assert.ok(existsSync(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
