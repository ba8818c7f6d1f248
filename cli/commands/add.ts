import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { gitKeptFile } from '../../core/paths.ts';
import { dataPathOf } from '../../core/pointer.ts';
import { gitAdd, gitSync } from '../git.ts';
import { formatBytes, info, plural, printJson, Progress, shellWord, warn, type OutputOptions } from '../ui.ts';
import { Snapshotter, snapshotting, type SnapshotOutcome } from '../workspace/snapshot.ts';
import { Workspace } from '../workspace/workspace.ts';

export interface AddOptions extends OutputOptions {
  gitAdd?: boolean;
}

export async function run(paths: string[], opts: AddOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const targets = validateTargets(ws, paths);
    if (opts.gitAdd !== false) refuseIgnoredPointers(ws, targets);
    const scans = targets.map((t) => ({ path: t, scan: Snapshotter.scan(ws, t) }));
    const totalBytes = scans.reduce((n, s) => n + s.scan.files.reduce((m, f) => m + f.stat.size, 0), 0);
    const progress = new Progress('adding', totalBytes, opts);
    let outcomes: SnapshotOutcome[];
    try {
      outcomes = await snapshotting(ws, (n) => progress.update(n), async (snap) => {
        const out: SnapshotOutcome[] = [];
        for (const { path, scan } of scans) out.push(await snap.snapshot(path, scan));
        return out;
      });
    } finally {
      progress.stop();
    }
    // Data is safely indexed: only now do pointers name it.
    const toStage: string[] = [];
    for (const o of outcomes) {
      toStage.push(ws.writePointer(o.dataPath, o.pointer), ws.ignoreDataPath(o.dataPath));
    }
    if (opts.gitAdd !== false) gitAdd(ws.root, [...new Set(toStage)]);
    report(outcomes, outcomes.reduce((n, o) => n + o.newBytes, 0), opts);
  } finally {
    await ws.close();
  }
}

function validateTargets(ws: Workspace, paths: string[]): string[] {
  if (paths.length === 0) throw new DvxError('usage', 'name at least one file or directory to add');
  const targets = [...new Set(paths.map((p) => ws.rel(p)))];
  const tracked = ws.tracked();
  for (const t of targets) {
    Workspace.assertIgnorable(t);
    const kept = gitKeptFile(t);
    if (kept) throw new DvxError('bad_path', `${t} ${kept}`, 'commit it with git; dvx tracks the data it describes');
    const data = dataPathOf(t);
    if (data !== undefined) throw new DvxError('bad_path', `${t} is a pointer file`, `add the data itself: \`dvx add ${shellWord(data)}\``);
    const inside = tracked.find((x) => t.startsWith(x.dataPath + '/'));
    if (inside) throw new DvxError('overlap', `${t} is inside the tracked directory ${inside.dataPath}`, `add the directory instead: \`dvx add ${shellWord(inside.dataPath)}\``);
    const contains = tracked.find((x) => x.dataPath.startsWith(t + '/'));
    if (contains) throw new DvxError('overlap', `${t} contains the tracked path ${contains.dataPath}`, `remove ${contains.pointerPath} first, or add paths inside ${t} one by one`);
    const other = targets.find((o) => o !== t && t.startsWith(o + '/'));
    if (other) throw new DvxError('overlap', `${t} is inside ${other}, also being added`, `add only ${other}`);
    refuseForeignPointerPath(ws, t);
  }
  const inGit = gitSync(ws.root, ['ls-files', '-z', '--cached', '--', ...targets]).split('\0').filter(Boolean);
  if (inGit.length > 0) {
    throw new DvxError('tracked_by_git', `${inGit[0]}${inGit.length > 1 ? ` (and ${inGit.length - 1} more)` : ''} is committed to git itself`, `stop tracking it in git first: \`git rm -r --cached ${targets.join(' ')}\``);
  }
  return targets;
}

/**
 * `<path>.dvx` is where the pointer goes: a file there that is not one (nor a
 * broken one, which adding is a way to fix) is the user's, and would be lost.
 */
function refuseForeignPointerPath(ws: Workspace, dataPath: string): void {
  const pointerPath = `${dataPath}.dvx`;
  let head: string;
  try {
    const fd = openSync(ws.abs(pointerPath), 'r');
    try {
      const buf = Buffer.alloc(4096);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return;
  }
  if (/^(# dvx pointer|dvx: )/m.test(head)) return;
  throw new DvxError('bad_path', `${pointerPath} exists and is not a dvx pointer; adding ${dataPath} would overwrite it`, `rename or remove ${pointerPath} first`);
}

/** git would refuse to stage a pointer it ignores, after the data was stored: say so before. */
function refuseIgnoredPointers(ws: Workspace, targets: string[]): void {
  const pointers = targets.map((t) => `${t}.dvx`);
  const ignored = gitSync(ws.root, ['check-ignore', '--no-index', '-z', '--stdin'], { input: pointers.join('\0') + '\0', allowFail: true }).split('\0').filter(Boolean);
  if (ignored.length === 0) return;
  const what = `git ignores ${ignored.join(', ')}, so the pointer could not be committed`;
  const stale = staleDataEntry(ws, ignored[0]!);
  if (stale) {
    throw new DvxError(
      'pointer_ignored',
      `${what}: the rule is \`${stale.pattern}\` in ${stale.source} (line ${stale.line}), which dvx wrote for ${stale.dataPath}; that path is no longer tracked (${stale.dataPath}.dvx is gone)`,
      `remove that line and add again; what else is in ${stale.dataPath} then shows in \`git status\`: track it, ignore it or delete it`,
    );
  }
  throw new DvxError('pointer_ignored', what, `\`git check-ignore -v ${shellWord(ignored[0]!)}\` shows the rule; add \`!${ignored[0]}\` (and \`!\` lines for its parent directories) to .gitignore, or add with --no-git-add`);
}

/**
 * The ignore rule behind `pointerPath`, when it is an entry dvx wrote for a
 * data path (anchored, in the .gitignore of its directory) that no pointer
 * tracks any more: left behind by `git rm <dir>.dvx`, it keeps a part of that
 * directory from being tracked on its own.
 */
function staleDataEntry(ws: Workspace, pointerPath: string): { source: string; line: string; pattern: string; dataPath: string } | undefined {
  const [source, line, pattern] = gitSync(ws.root, ['check-ignore', '--no-index', '-v', '-z', '--stdin'], { input: `${pointerPath}\0`, allowFail: true }).split('\0');
  if (!source || !line || !pattern || !/(^|\/)\.gitignore$/.test(source) || !/^\/[^/*?[\]!]+$/.test(pattern)) return undefined;
  const dir = source === '.gitignore' ? '' : source.slice(0, -'/.gitignore'.length);
  const dataPath = `${dir ? `${dir}/` : ''}${pattern.slice(1)}`;
  if (!pointerPath.startsWith(`${dataPath}/`) || existsSync(ws.abs(`${dataPath}.dvx`))) return undefined;
  return { source, line, pattern, dataPath };
}

function report(outcomes: SnapshotOutcome[], newBytes: number, opts: OutputOptions): void {
  for (const o of outcomes) for (const s of o.skipped) warn(`skipped ${s}: not a regular file (dvx never follows symlinks)`);
  if (opts.json) {
    printJson({
      added: outcomes.map((o) => ({ path: o.dataPath, type: o.pointer.type, size: o.pointer.size, files: o.pointer.files ?? 1, sha256: o.pointer.sha256, manifest: o.pointer.manifest, newBytes: o.newBytes, skipped: o.skipped })),
      newBytes,
    });
    return;
  }
  for (const o of outcomes) {
    const what = o.pointer.type === 'dir' ? `, ${plural(o.pointer.files!, 'file')}` : '';
    info(opts, `added ${o.dataPath} (${formatBytes(o.pointer.size)}${what}): ${formatBytes(o.newBytes)} new, ${formatBytes(Math.max(0, o.pointer.size - o.newBytes))} already stored`);
  }
  if (outcomes.length > 1) info(opts, `${formatBytes(newBytes)} new in all`);
}
