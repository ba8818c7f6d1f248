import { ByteReader, ByteWriter } from './byte-reader.ts';
import { FormatError } from './errors.ts';
import { blake3Hex, sha256Hex } from './hash.ts';
import { assertId } from './hex.ts';
import { assertSafeRelativePath, comparePaths } from './paths.ts';

/**
 * Tree manifest, format version 1: a tracked directory, as the flat list of the
 * regular files under it.
 *
 *   offset  size  field
 *   0       4     magic "DVXT"
 *   4       1     version = 1
 *   5       3     reserved, zero
 *   8       4     entry count n (u32 LE)
 *   12      ...   n entries, each:
 *                   u16 LE path length L, then L bytes of UTF-8 path
 *                   u32 LE mode: 0o100644 or 0o100755
 *                   u64 LE size
 *                   32 bytes file SHA-256
 *                   32 bytes file manifest id
 *
 * Canonical: paths are safe relative paths (paths.ts), strictly ascending in
 * byte order, and no path is a directory prefix of another ("a" with "a/b").
 * Empty directories are not recorded. The tree id is BLAKE3-256 of these bytes;
 * the directory's sha256 (in its pointer) is SHA-256 of them.
 */
const MAGIC = Buffer.from('DVXT', 'latin1');
const VERSION = 1;
const WHAT = 'tree manifest';
export const MODE_FILE = 0o100644;
export const MODE_EXEC = 0o100755;

export interface TreeEntry {
  readonly path: string;
  readonly mode: number;
  readonly size: number;
  readonly sha256: string;
  readonly manifest: string;
}

export interface TreeManifest {
  readonly entries: readonly TreeEntry[];
}

function check(entries: readonly TreeEntry[]): void {
  let prev: string | undefined;
  for (const e of entries) {
    assertSafeRelativePath(e.path, WHAT);
    if (e.mode !== MODE_FILE && e.mode !== MODE_EXEC) throw new FormatError(WHAT, `entry ${JSON.stringify(e.path)} has mode ${e.mode.toString(8)}, not 100644 or 100755`);
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw new FormatError(WHAT, `entry ${JSON.stringify(e.path)} has a bad size`);
    assertId(e.sha256, `${WHAT} entry sha256`);
    assertId(e.manifest, `${WHAT} entry manifest`);
    if (prev !== undefined) {
      if (comparePaths(prev, e.path) >= 0) throw new FormatError(WHAT, `entries not in strictly ascending byte order at ${JSON.stringify(e.path)}`);
      if (e.path.startsWith(prev + '/')) throw new FormatError(WHAT, `${JSON.stringify(prev)} is both a file and a directory`);
    }
    prev = e.path;
  }
}

export function encodeTreeManifest(t: TreeManifest): Buffer {
  check(t.entries);
  const paths = t.entries.map((e) => Buffer.from(e.path, 'utf8'));
  const size = 12 + paths.reduce((n, p) => n + 2 + p.length + 4 + 8 + 64, 0);
  const w = new ByteWriter(size).raw(MAGIC).u8(VERSION).u8(0).u16(0).u32(t.entries.length);
  t.entries.forEach((e, i) => {
    w.u16(paths[i]!.length).raw(paths[i]!).u32(e.mode).u64(e.size).hex(e.sha256).hex(e.manifest);
  });
  return w.done();
}

export function decodeTreeManifest(bytes: Uint8Array): TreeManifest {
  const r = new ByteReader(bytes, WHAT);
  r.expectMagic(MAGIC);
  const version = r.u8('version');
  if (version !== VERSION) throw new FormatError(WHAT, `unsupported version ${version} (this dvx reads version ${VERSION}; upgrade dvx)`);
  r.expectZero(3, 'reserved');
  const n = r.u32('entry count');
  // Each entry is at least 2+1+4+8+64 bytes: refuse absurd counts before allocating.
  if (n > r.remaining / 79) throw new FormatError(WHAT, `entry count ${n} does not fit in ${r.remaining} bytes`);
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const entries: TreeEntry[] = [];
  for (let i = 0; i < n; i++) {
    const raw = r.bytes_(r.u16('path length'), 'path');
    let path: string;
    try {
      path = decoder.decode(raw);
    } catch {
      throw new FormatError(WHAT, `entry ${i} path is not valid UTF-8`);
    }
    entries.push({ path, mode: r.u32('mode'), size: r.u64('size'), sha256: r.hex32('sha256'), manifest: r.hex32('manifest') });
  }
  r.end();
  check(entries);
  return { entries };
}

export function treeManifestId(encoded: Uint8Array): string {
  return blake3Hex(encoded);
}

/** A directory's identity as its pointer records it. */
export function treeSha256(encoded: Uint8Array): string {
  return sha256Hex(encoded);
}

export function treeSize(t: TreeManifest): number {
  return t.entries.reduce((n, e) => n + e.size, 0);
}
