import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { DvxError } from '../../core/errors.ts';
import { gitAdd, gitSync } from '../git.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { formatBytes, info, plural, printJson, Progress, type OutputOptions } from '../ui.ts';
import { snapshotting, type SnapshotOutcome } from '../workspace/snapshot.ts';
import { Workspace } from '../workspace/workspace.ts';

/**
 * `dvx import-lfs [paths...]`: moves files from Git LFS to dvx. For every file
 * whose committed content is an LFS pointer, the real content (the smudged file
 * in the working tree, or the object in .git/lfs/objects) is checked against
 * the LFS oid — a SHA-256, the same identity dvx pointers use — then added to
 * dvx, its LFS pointer removed from the index and the data git-ignored. When
 * every LFS file was imported, the `filter=lfs` lines leave .gitattributes.
 * Nothing is committed: review with `git status`, then commit.
 */
interface ImportOptions extends OutputOptions {
  keepAttributes?: boolean;
}

interface LfsFile {
  path: string;
  oid: string;
  size: number;
}

const LFS_POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n/;

export async function run(paths: string[], opts: ImportOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const all = lfsFiles(ws);
    const wanted = paths.map((p) => ws.rel(p));
    const chosen = wanted.length === 0 ? all : all.filter((f) => wanted.some((w) => f.path === w || f.path.startsWith(w + '/')));
    if (chosen.length === 0) throw new DvxError('nothing_to_import', wanted.length ? `no Git LFS files under ${wanted.join(', ')}` : 'this repository has no Git LFS files in its index');

    // Every object must be here and intact before anything changes.
    const sources = chosen.map((f) => ({ ...f, source: contentOf(ws, f) }));
    const progress = new Progress('importing', sources.reduce((n, f) => n + f.size, 0), opts);
    let outcomes: SnapshotOutcome[];
    try {
      outcomes = await snapshotting(ws, (n) => progress.update(n), async (snap) => {
        const out: SnapshotOutcome[] = [];
        for (const f of sources) {
          if (f.source !== ws.abs(f.path)) {
            // The working tree holds the LFS pointer (not smudged): put the real content there first.
            writeFileAtomic(ws.abs(f.path), readFileSync(f.source));
          }
          const o = await snap.snapshot(f.path);
          if (o.pointer.sha256 !== f.oid) throw new DvxError('lfs_mismatch', `${f.path}: content hashes to ${o.pointer.sha256}, not its LFS oid ${f.oid}`);
          out.push(o);
        }
        return out;
      });
    } finally {
      progress.stop();
    }
    gitSync(ws.root, ['rm', '-q', '--cached', '--', ...chosen.map((f) => f.path)]);
    const stage: string[] = [];
    for (const o of outcomes) stage.push(ws.writePointer(o.dataPath, o.pointer), ws.ignoreDataPath(o.dataPath));
    const everything = chosen.length === all.length;
    if (everything && !opts.keepAttributes && dropLfsAttributes(ws)) stage.push('.gitattributes');
    gitAdd(ws.root, [...new Set(stage)]);
    const newBytes = outcomes.reduce((n, o) => n + o.newBytes, 0);
    if (opts.json) return printJson({ imported: outcomes.map((o) => ({ path: o.dataPath, size: o.pointer.size, sha256: o.pointer.sha256 })), newBytes, attributesUpdated: everything && !opts.keepAttributes });
    info(opts, `imported ${plural(outcomes.length, 'file')} from Git LFS (${formatBytes(outcomes.reduce((n, o) => n + o.pointer.size, 0))}, ${formatBytes(newBytes)} new in the cache)`);
    info(opts, 'review with `git status`, then commit; `dvx push` sends the data to your dvx remote');
  } finally {
    await ws.close();
  }
}

/** Files whose staged content is an LFS pointer. */
function lfsFiles(ws: Workspace): LfsFile[] {
  const out: LfsFile[] = [];
  const entries = gitSync(ws.root, ['ls-files', '-s', '-z']).split('\0').filter(Boolean);
  const small: { path: string; blob: string }[] = [];
  for (const e of entries) {
    const m = /^(\d+) ([0-9a-f]+) \d\t(.*)$/s.exec(e);
    if (m && m[1] === '100644') small.push({ path: m[3]!, blob: m[2]! });
  }
  if (small.length === 0) return out;
  // One `git cat-file --batch` for all candidates: size first, content only if pointer-sized.
  const sizes = gitSync(ws.root, ['cat-file', '--batch-check=%(objectname) %(objectsize)'], { input: small.map((s) => s.blob).join('\n') + '\n' }).trim().split('\n');
  const candidates = small.filter((_, i) => Number(sizes[i]!.split(' ')[1]) < 1024);
  for (const c of candidates) {
    const text = gitSync(ws.root, ['cat-file', 'blob', c.blob]);
    const m = LFS_POINTER.exec(text);
    if (m) out.push({ path: c.path, oid: m[1]!, size: Number(m[2]) });
  }
  return out;
}

/** Where the real content of an LFS file is, verified against its oid. */
function contentOf(ws: Workspace, f: LfsFile): string {
  const gitDir = resolve(ws.root, gitSync(ws.root, ['rev-parse', '--git-common-dir']).trim());
  const stored = join(gitDir, 'lfs', 'objects', f.oid.slice(0, 2), f.oid.slice(2, 4), f.oid);
  for (const candidate of [ws.abs(f.path), stored]) {
    if (existsSync(candidate) && sha256File(candidate) === f.oid) return candidate;
  }
  throw new DvxError('lfs_object_missing', `the content of ${f.path} (LFS object ${f.oid.slice(0, 12)}) is not here`, 'run `git lfs pull` first, then import again');
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function dropLfsAttributes(ws: Workspace): boolean {
  const path = join(ws.root, '.gitattributes');
  if (!existsSync(path)) return false;
  const text = readFileSync(path, 'utf8');
  const kept = text.split('\n').filter((l) => !/\bfilter=lfs\b/.test(l));
  if (kept.length === text.split('\n').length) return false;
  writeFileAtomic(path, kept.join('\n'));
  return true;
}
