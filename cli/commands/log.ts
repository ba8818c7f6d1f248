import { DvxError } from '../../core/errors.ts';
import { dataPathOf } from '../../core/pointer.ts';
import { GitHistory, UNSHALLOW_HINT } from '../history/git-history.ts';
import { invalidPointerWarner } from '../history/invalid-pointers.ts';
import { PathHistory, type PathVersion } from '../history/path-versions.ts';
import { formatBytes, info, plural, printJson, warn, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

interface LogOptions extends OutputOptions {
  rev?: string;
  maxCount?: string;
}

/** One line of the log, as --json prints it. */
interface Row {
  commit: string;
  time: string;
  author: string;
  message: string;
  removed: boolean;
  size?: number;
  /** as the pointer records it (for a directory inside a tracked one: null) */
  sha256?: string | null;
  manifest?: string | null;
  /** bytes whose chunks the previous version did not have; null: not known from the cache, or at a shallow clone's boundary */
  newBytes: number | null;
  /** the tracked directory the path lies in, when it is not tracked itself */
  inside?: string;
  /** how many files, for a directory inside a tracked one */
  files?: number;
  /** the pointer file (the path's, or its directory's) does not decode */
  invalid?: { pointer: string; error: string };
  /** the directory's tree manifest (here or in the parent commit) is not in the local cache: whether the path changed is unknown */
  unknown?: { manifest: string; error: string };
}

function maxCount(value: string | undefined): number {
  if (value === undefined) return Infinity;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new DvxError('usage', `--max-count must be a whole number of at least 1, got ${value}`);
  return Number(value);
}

/**
 * `dvx log <path>`: the versions of a dataset across the local git history,
 * newest first. The path may be tracked itself or lie inside a tracked
 * directory (then the versions are those of the directory in which it
 * changed). A commit whose pointer file for it does not decode is listed as
 * invalid, with a warning, and the log goes on.
 */
export async function run(path: string, opts: LogOptions): Promise<void> {
  const limit = maxCount(opts.maxCount);
  const ws = Workspace.find();
  try {
    const rel = ws.rel(path);
    const dataPath = dataPathOf(rel) ?? rel;
    const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
    const rev = opts.rev ?? 'HEAD';
    const tip = await history.resolve(rev);
    if (!tip) throw new DvxError('bad_revision', `${rev} does not name a commit`, rev === 'HEAD' ? 'make a first commit' : `use a branch, tag or commit sha${history.isShallow() ? `; ${UNSHALLOW_HINT}` : ''}`);
    const paths = new PathHistory(history, await ws.cache(), dataPath);
    const { versions, boundary } = await paths.versions(tip, limit);
    // Said once, after the versions in sight: the list is not the whole history.
    const shallow = boundary.length > 0 ? `history before ${boundary.map((s) => s.slice(0, 10)).join(', ')} is not in this shallow clone: \`git fetch --unshallow\` gets it` : undefined;
    const warnInvalid = invalidPointerWarner('listed as invalid: what it held there is unknown');
    for (const v of versions) if (v.state.kind === 'invalid') warnInvalid(v.state.bad);
    const rows = versions.map((v) => row(paths, v));
    const unknown = versions.flatMap((v) => (v.state.kind === 'unknown' ? [v.state] : []));
    if (unknown.length > 0) {
      const dirs = [...new Set(unknown.map((u) => u.dir))].join(', ');
      warn(`whether ${dataPath} changed in ${plural(unknown.length, 'commit')} is unknown: the tree manifest of ${dirs} there is not in the local cache (a version's manifest comes with its data: check out that commit's pointer and \`dvx fetch\`)`);
    }
    if (opts.json) {
      printJson({ path: dataPath, versions: rows, shallow: shallow ? { boundary, message: shallow } : null });
      return;
    }
    if (rows.length === 0) info(opts, `${dataPath} is not tracked in any commit reachable from ${rev}${shallow ? ' in this shallow clone' : ''}`);
    for (const r of rows) info(opts, `${r.commit.slice(0, 10)}  ${r.time.replace('T', ' ').slice(0, 16)}  ${describe(r)}  ${r.author}: ${r.message}`);
    if (shallow) warn(shallow);
  } finally {
    await ws.close();
  }
}

function row(paths: PathHistory, v: PathVersion): Row {
  const c = v.commit;
  const base = { commit: c.sha, time: new Date(c.committer.time * 1000).toISOString(), author: c.author.name, message: c.message.split('\n')[0]! };
  const s = v.state;
  // At a shallow clone's boundary (no prev) what the parent held is unknown, and so what is new.
  const newBytes = (): number | null => {
    const now = paths.chunks(s);
    const before = paths.chunks(v.prev);
    if (!now || !before) return null;
    let n = 0;
    for (const [id, len] of now) if (!before.has(id)) n += len;
    return n;
  };
  switch (s.kind) {
    case 'absent':
      return { ...base, removed: true, newBytes: 0 };
    case 'pointer':
      return { ...base, removed: false, size: s.pointer.size, sha256: s.pointer.sha256, manifest: s.pointer.manifest, newBytes: newBytes() };
    case 'inside': {
      const file = s.entries.length === 1 && s.entries[0]!.path === s.rel ? s.entries[0]! : undefined;
      const size = s.entries.reduce((n, e) => n + e.size, 0);
      return { ...base, removed: false, size, sha256: file?.sha256 ?? null, manifest: file?.manifest ?? null, newBytes: newBytes(), inside: s.dir, ...(file ? {} : { files: s.entries.length }) };
    }
    case 'invalid':
      return { ...base, removed: false, newBytes: null, invalid: { pointer: s.bad.pointerPath, error: s.bad.reason } };
    case 'unknown':
      return { ...base, removed: false, newBytes: null, inside: s.dir, unknown: { manifest: s.manifest, error: `tree manifest ${s.manifest} of ${s.dir} is not in the local cache` } };
  }
}

function describe(r: Row): string {
  if (r.removed) return '   removed';
  if (r.invalid) return `   invalid  ${r.invalid.pointer} is not a valid pointer`;
  if (r.unknown) return `   unknown  ${r.inside}'s tree manifest ${r.unknown.manifest.slice(0, 12)} is not in the local cache`;
  const id = r.sha256 ? r.sha256.slice(0, 12) : plural(r.files ?? 0, 'file').padEnd(12);
  return `${formatBytes(r.size!).padStart(10)}  ${id}  ${r.newBytes === null ? '       ?' : formatBytes(r.newBytes).padStart(10)} new`;
}
