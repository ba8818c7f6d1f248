import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { copyableMemory } from '../../core/fastcdc.ts';
import { DIRECT_ALIGN, Staging } from '../../core/staging.ts';
import { StagedFile } from './staged-file.ts';

// Under the work tree, not /tmp: /tmp may be a tmpfs, and the direct-I/O path needs a disk file system.
const root = mkdtempSync(join(process.cwd(), '.staged-file-test-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function withDirectIo<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  const before = process.env.DVX_DIRECT_IO;
  process.env.DVX_DIRECT_IO = on ? '1' : '0';
  return fn().finally(() => {
    if (before === undefined) delete process.env.DVX_DIRECT_IO;
    else process.env.DVX_DIRECT_IO = before;
  });
}

function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

let fileNo = 0;

/** Appends `pieces` (views into `source`) through a small staging area and returns what the file holds. */
async function writeThrough(pieces: Uint8Array[], staging: Staging): Promise<{ bytes: Buffer; direct: boolean }> {
  const path = join(root, `f${fileNo++}`);
  const file = StagedFile.create(path, staging);
  try {
    const waits: Promise<void>[] = [];
    for (const p of pieces) {
      const w = file.append(p);
      if (w) waits.push(w);
    }
    await Promise.all(waits);
    await file.end();
    assert.equal(file.size, pieces.reduce((n, p) => n + p.length, 0));
  } finally {
    await file.close();
  }
  return { bytes: readFileSync(path), direct: file.isDirect };
}

for (const direct of [true, false]) {
  test(`staged file: bytes land in order, whole blocks or not (direct I/O ${direct ? 'on' : 'off'})`, async () => {
    await withDirectIo(direct, async () => {
      const spec = { blockBytes: 2 * DIRECT_ALIGN, blocks: 2 };
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5 * DIRECT_ALIGN }), { maxLength: 12 }), fc.boolean(), async (sizes, fromOwnMemory) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const data = pseudoRandom(total + 7, total + sizes.length);
          // Chunks that lie in the staging's own memory are copied by memory.copy; others by a typed-array copy.
          let staging: Staging;
          let source: Uint8Array;
          if (fromOwnMemory) {
            const { memory, copy } = copyableMemory(Staging.bytesFor(spec) + total + 7 + DIRECT_ALIGN);
            staging = new Staging(memory, 0, spec, copy);
            source = new Uint8Array(memory.buffer, Staging.bytesFor(spec) + 3, total);
            source.set(data.subarray(0, total));
          } else {
            staging = Staging.standalone(spec);
            source = data.subarray(0, total);
          }
          const pieces: Uint8Array[] = [];
          let at = 0;
          for (const n of sizes) {
            pieces.push(source.subarray(at, at + n));
            at += n;
          }
          const out = await writeThrough(pieces, staging);
          assert.deepEqual(new Uint8Array(out.bytes), data.subarray(0, total));
          // every block went back
          for (let i = 0; i < spec.blocks; i++) assert.notEqual(staging.tryAcquire(), undefined);
        }),
        { numRuns: 40 },
      );
    });
  });
}

test('staged file: an append that must wait for a block says so, and `copyIfWaiting` frees the caller at once', async () => {
  const staging = Staging.standalone({ blockBytes: DIRECT_ALIGN, blocks: 2 });
  const path = join(root, `f${fileNo++}`);
  const file = StagedFile.create(path, staging);
  const a = pseudoRandom(DIRECT_ALIGN * 3, 1);
  // Three blocks' worth with two blocks: the third has to wait for a write to land.
  const first = file.append(a.subarray(0, DIRECT_ALIGN * 2));
  assert.equal(first, undefined);
  const scratch = a.slice(DIRECT_ALIGN * 2);
  const second = file.append(scratch, { copyIfWaiting: true });
  assert.ok(second instanceof Promise, 'the third block had to wait');
  scratch.fill(0); // the caller reuses its buffer at once
  await second;
  await file.end();
  await file.close();
  assert.deepEqual(new Uint8Array(readFileSync(path)), a);
});

test('staged file: refuses to replace an existing file, and a failed file gives its blocks back', async () => {
  const staging = Staging.standalone({ blockBytes: DIRECT_ALIGN, blocks: 2 });
  const path = join(root, `f${fileNo++}`);
  writeFileSync(path, 'precious');
  assert.throws(() => StagedFile.create(path, staging), /EEXIST/);
  assert.equal(readFileSync(path, 'utf8'), 'precious');

  // Abandoned midway (an error elsewhere): close without end returns every block.
  const other = StagedFile.create(join(root, `f${fileNo++}`), staging);
  other.append(pseudoRandom(DIRECT_ALIGN + 10, 2));
  await other.close();
  assert.notEqual(staging.tryAcquire(), undefined);
  assert.notEqual(staging.tryAcquire(), undefined);
});

test('staging: rejects layouts that direct I/O cannot use', () => {
  const { memory, copy } = copyableMemory(1 << 20);
  assert.throws(() => new Staging(memory, 100, { blockBytes: DIRECT_ALIGN, blocks: 2 }, copy), /aligned/);
  assert.throws(() => new Staging(memory, 0, { blockBytes: 1000, blocks: 2 }, copy), /multiple/);
  assert.throws(() => new Staging(memory, 0, { blockBytes: DIRECT_ALIGN, blocks: 1 }, copy), /two blocks/);
  assert.throws(() => new Staging(memory, 0, { blockBytes: 1 << 20, blocks: 2 }, copy), /does not fit/);
});

test('staging: a block comes back when its last holder releases it, and goes to a waiting borrower first', async () => {
  const staging = Staging.standalone({ blockBytes: DIRECT_ALIGN, blocks: 2 });
  const a = staging.tryAcquire()!;
  const b = staging.tryAcquire()!;
  assert.equal(staging.tryAcquire(), undefined);
  staging.retain(a); // e.g. a hash of it still in flight while its write lands
  const waiting = staging.acquire();
  staging.release(a);
  let got: number | undefined;
  void waiting.then((i) => (got = i));
  await Promise.resolve();
  assert.equal(got, undefined, 'still held once');
  staging.release(a);
  assert.equal(await waiting, a);
  assert.equal(staging.tryAcquire(), undefined, 'handed to the waiter, not freed');
  staging.release(a);
  staging.release(b);
  assert.throws(() => staging.release(b), /released twice/);
  assert.throws(() => staging.retain(b), /not lent out/);
});
