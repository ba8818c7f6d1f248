import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bloom } from './bloom.ts';

test('bloom: every added id is a maybe, few others are, and it survives a save and load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-bloom-'));
  try {
    const b = Bloom.empty(20_000);
    const ids = Array.from({ length: 20_000 }, () => randomBytes(32));
    for (const id of ids) b.add(id);
    for (const id of ids) assert.ok(b.mightHave(id));
    let falsePositives = 0;
    for (let i = 0; i < 20_000; i++) if (b.mightHave(randomBytes(32))) falsePositives++;
    assert.ok(falsePositives < 20_000 * 0.05, `${falsePositives} false positives in 20,000`);
    b.generation = 7;
    const path = join(dir, 'bloom.bin');
    b.save(path);
    const again = Bloom.load(path)!;
    assert.equal(again.generation, 7);
    for (const id of ids) assert.ok(again.mightHave(id));
    // A damaged file is not trusted: the caller rebuilds.
    writeFileSync(path, Buffer.from('DVXBLOOMgarbage'));
    assert.equal(Bloom.load(path), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
