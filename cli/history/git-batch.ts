import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { DvxError } from '../../core/errors.ts';
import { dataPathOf } from '../../core/pointer.ts';
import { gitBytes, gitError } from '../git.ts';

/**
 * Bulk reads of history through git's read-only plumbing, for pre-push: the
 * pointer files that changed between a thousand pairs of commits are one
 * `git diff-tree --stdin`, and their contents one `git cat-file --batch`
 * fed from its output as it streams.
 * Walking the same trees object by object in JavaScript (isomorphic-git)
 * costs about a millisecond per commit; git does it in a twentieth of that.
 * These commands run no hooks and never write the repository.
 *
 * Paths are pointer-file paths relative to the repository root, decoded as
 * UTF-8; the `.dvx` directory at the root (dvx's own files) is skipped, as a
 * tree walk does.
 */
export interface PointerFileChange {
  /** path of the pointer file (`<data path>.dvx`) */
  readonly path: string;
  /** blob id of its new content; undefined: the pointer file was removed */
  readonly blob: string | undefined;
}

/** A file mode git lists as a tree entry whose content is a blob (a submodule, 160000, is not). */
function isBlobMode(mode: string): boolean {
  return mode !== '160000' && mode !== '040000' && mode !== '000000';
}

function wanted(path: string): boolean {
  return dataPathOf(path) !== undefined && path !== '.dvx' && !path.startsWith('.dvx/');
}

/** Every pointer file in a commit: [path, blob id]. */
export function listPointerFiles(dir: string, commit: string): [string, string][] {
  const out = gitBytes(dir, ['ls-tree', '-r', '-z', '--full-tree', commit]).toString('utf8');
  const files: [string, string][] = [];
  for (const line of out.split('\0')) {
    if (line === '') continue;
    // "<mode> <type> <id>\t<path>"
    const tab = line.indexOf('\t');
    const [mode, type, id] = line.slice(0, tab).split(' ');
    const path = line.slice(tab + 1);
    if (type === 'blob' && isBlobMode(mode!) && wanted(path)) files.push([path, id!]);
  }
  return files;
}

/**
 * Every pointer file staged in git's index: [path, blob id], each stage of a
 * conflicted path (base, ours, theirs) listed.
 */
export function listIndexPointerFiles(dir: string): [string, string][] {
  const out = gitBytes(dir, ['ls-files', '--stage', '-z', '--', '*.dvx']).toString('utf8');
  const files: [string, string][] = [];
  for (const line of out.split('\0')) {
    if (line === '') continue;
    // "<mode> <id> <stage>\t<path>"
    const tab = line.indexOf('\t');
    const [mode, id] = line.slice(0, tab).split(' ');
    const path = line.slice(tab + 1);
    if (isBlobMode(mode!) && wanted(path)) files.push([path, id!]);
  }
  return files;
}

/** The contents of blobs, by id (all of them must exist). */
export function readBlobs(dir: string, ids: readonly string[]): Map<string, Buffer> {
  return onlyBlobs(readObjects(dir, ids));
}

function onlyBlobs(objects: Map<string, GitObject>): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (const [id, o] of objects) {
    if (o.type !== 'blob') throw new DvxError('bad_pointer', `git object ${id} is a ${o.type}, not a blob`);
    found.set(id, o.bytes);
  }
  return found;
}

/**
 * The commits reachable from `tips`, streamed from `git rev-list --parents`
 * (newest first by commit date) as [sha, parents]; `stop()` ends the walk
 * (and the git process) early.
 */
export function revList(dir: string, tips: readonly string[]): { lines: AsyncIterable<[string, string[]]>; stop(): void } {
  const args = ['rev-list', '--parents', ...tips];
  const child = spawn('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(gitError(args, err)));
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined); // awaited after the last line; a walk stopped early never looks
  let stopped = false;
  async function* lines(): AsyncGenerator<[string, string[]]> {
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
      if (line === '') continue;
      const [sha, ...parents] = line.split(' ');
      yield [sha!, parents];
    }
    const code = await exited;
    if (code !== 0 && !stopped) throw gitError(args, `exit ${code}`, stderr);
  }
  return {
    lines: lines(),
    stop() {
      stopped = true;
      child.kill();
    },
  };
}

export interface ParsedCommit {
  readonly tree: string;
  readonly parents: string[];
  readonly message: string;
  readonly author: { name: string; email: string; timestamp: number; timezoneOffset: number };
  readonly committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/**
 * A commit object's fields exactly as isomorphic-git's readCommit gives them
 * (message with CRs removed and one final newline; the first `tree`, the
 * `parent` lines right after it; the first of any other header; time zones as
 * minutes behind UTC), so that a commit read either way gets the same record
 * (the server compares records of a commit sent twice).
 */
export function parseCommit(id: string, bytes: Uint8Array): ParsedCommit {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const split = text.indexOf('\n\n');
  const message = normalizeNewlines(text.slice(split + 2));
  const hs: string[] = [];
  for (const h of text.slice(0, split).split('\n')) {
    if (h[0] === ' ' && hs.length > 0) hs[hs.length - 1] += '\n' + h.slice(1);
    else hs.push(h);
  }
  const keyOf = (h: string) => h.slice(0, h.indexOf(' '));
  const valueOf = (h: string) => h.slice(h.indexOf(' ') + 1);
  const bad = (why: string) => new DvxError('bad_commit', `git commit ${id} cannot be read: ${why}`);
  if (hs.length === 0 || keyOf(hs[0]!) !== 'tree') throw bad('it does not start with a tree');
  const parents: string[] = [];
  let i = 1;
  for (; i < hs.length && keyOf(hs[i]!) === 'parent'; i++) parents.push(valueOf(hs[i]!));
  const other = new Map<string, string>();
  for (; i < hs.length; i++) if (!other.has(keyOf(hs[i]!))) other.set(keyOf(hs[i]!), valueOf(hs[i]!));
  const person = (field: string) => {
    const v = other.get(field);
    const m = v === undefined ? null : /^(.*) <(.*)> (.*) (.*)$/.exec(v);
    const tz = m ? /(\+|-)(\d\d)(\d\d)/.exec(m[4]!) : null;
    if (!m || !tz) throw bad(`its ${field} line is missing or malformed`);
    const minutes = (tz[1] === '+' ? 1 : -1) * (Number(tz[2]) * 60 + Number(tz[3]));
    return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezoneOffset: minutes === 0 ? minutes : -minutes };
  };
  return { tree: valueOf(hs[0]!), parents, message, author: person('author'), committer: person('committer') };
}

function normalizeNewlines(s: string): string {
  return s.replace(/\r/g, '').replace(/^\n+/, '').replace(/\n+$/, '') + '\n';
}

/** Raw objects by id, in one `git cat-file --batch`, with their types. */
export function readObjects(dir: string, ids: readonly string[]): Map<string, GitObject> {
  if (ids.length === 0) return new Map();
  return splitBatch(gitBytes(dir, ['cat-file', '--batch', '--buffer'], ids.map((id) => `${id}\n`).join('')), ids);
}

/** A git command run asynchronously: its whole output, or a DvxError naming what failed. */
function gitAsync(dir: string, args: string[]): { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream; output: Promise<Buffer> } {
  const child = spawn('git', args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A command that exits early must not crash us with EPIPE: its exit status says what went wrong.
  child.stdin.on('error', () => undefined);
  const output = new Promise<Buffer>((resolve, reject) => {
    child.once('error', (err) => reject(gitError(args, err)));
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(gitError(args, `exit ${code}`, stderr))));
  });
  return { stdin: child.stdin, stdout: child.stdout, output };
}

/**
 * diffPointerFiles and readBlobs at once: `git diff-tree`'s output is parsed as
 * it streams and each new pointer blob is asked of a `git cat-file --batch`
 * running beside it, so the two commands use both cores instead of one after
 * the other. Blobs for which `known` answers true are not read.
 */
export async function diffPointerFilesWithContents(dir: string, pairs: readonly { from: string; to: string }[], known: (blob: string) => boolean): Promise<{ changes: PointerFileChange[][]; contents: Map<string, Buffer> }> {
  if (pairs.length === 0) return { changes: [], contents: new Map() };
  const diff = gitAsync(dir, ['diff-tree', '-r', '-z', '--always', '--no-renames', '--no-ext-diff', '--stdin']);
  const cat = gitAsync(dir, ['cat-file', '--batch', '--buffer']);
  cat.output.catch(() => undefined); // awaited below, unless diff-tree failed first
  const asked: string[] = [];
  const askedSet = new Set<string>();
  const changes: PointerFileChange[][] = [];
  let cur: PointerFileChange[] | undefined;
  let status: string | undefined; // the ":<modes> <ids> <status>" token whose path comes next
  let partial = '';
  const take = (t: string) => {
    if (status !== undefined) {
      const s = status;
      status = undefined;
      if (!cur) throw new DvxError('git_failed', 'git diff-tree printed a change before a commit');
      if (!wanted(t)) return;
      const [oldMode, newMode, , newId] = s.slice(1).split(' ');
      if (isBlobMode(newMode!)) {
        cur.push({ path: t, blob: newId! });
        if (!askedSet.has(newId!) && !known(newId!)) {
          askedSet.add(newId!);
          asked.push(newId!);
          cat.stdin.write(`${newId}\n`);
        }
      } else if (isBlobMode(oldMode!)) cur.push({ path: t, blob: undefined });
    } else if (t.startsWith(':')) status = t;
    else if (t !== '') {
      cur = [];
      changes.push(cur);
    }
  };
  const parsed = new Promise<void>((resolve, reject) => {
    const utf8 = new StringDecoder('utf8');
    diff.stdout.on('data', (chunk: Buffer) => {
      try {
        const tokens = (partial + utf8.write(chunk)).split('\0');
        partial = tokens.pop()!;
        for (const t of tokens) take(t);
      } catch (err) {
        reject(err);
      }
    });
    diff.stdout.on('end', () => {
      cat.stdin.end();
      resolve();
    });
  });
  diff.stdin.end(pairs.map((p) => `${p.to} ${p.from}\n`).join(''));
  try {
    await Promise.all([parsed, diff.output]);
  } finally {
    cat.stdin.end();
  }
  if (partial !== '') take(partial);
  if (changes.length !== pairs.length) throw new DvxError('git_failed', `git diff-tree answered for ${changes.length} of ${pairs.length} commits`);
  const out = await cat.output;
  return { changes, contents: onlyBlobs(splitBatch(out, asked)) };
}

export interface GitObject {
  type: string;
  bytes: Buffer;
}

/** `git cat-file --batch` output for `ids` (in order), by id. */
function splitBatch(out: Buffer, ids: readonly string[]): Map<string, GitObject> {
  const found = new Map<string, GitObject>();
  let at = 0;
  for (const id of ids) {
    const nl = out.indexOf(10, at);
    if (nl < 0) throw new DvxError('git_failed', `git cat-file stopped before object ${id}`);
    const header = out.toString('latin1', at, nl);
    const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
    if (!m) throw new DvxError('git_failed', `git cannot read object ${id}: ${header}`);
    const size = Number(m[3]);
    found.set(id, { type: m[2]!, bytes: out.subarray(nl + 1, nl + 1 + size) });
    at = nl + 1 + size + 1;
  }
  return found;
}
