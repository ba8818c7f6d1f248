import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { DvxError, FormatError } from '../../core/errors.ts';
import { gitSha } from '../../core/protocol.ts';
import * as z from '../../core/zod.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { gitSync } from '../git.ts';
import { PidLock } from '../pid-lock.ts';

/**
 * The notes pre-push leaves for ./push-settle.ts: the refs it recorded on the
 * dvx server for a `git push` that had not happened yet, one JSON file per
 * push in the git directory (`dvx-pending-pushes/`, never in the working
 * tree, so no `git add -A` can commit one):
 *
 *   {"version": 1, "gitPid": 4242, "remote": "origin", "url": "git@host:team/repo.git",
 *    "dvxRemote": "origin", "created": "2026-11-25T10:00:00.000Z",
 *    "refs": [{"name": "refs/heads/main", "pushed": "<40 hex>" | null, "sha": "<40 hex>" | null, "old": "<40 hex>" | null}]}
 *
 * `gitPid` is the `git push` that ran the hook: the note is settled once it
 * has exited. `remote` and `url` are git's first two hook arguments (a remote
 * name, or the URL again for a push to a URL). `pushed` is the object git
 * sends for the ref (null: a deletion), `sha` what the server now has for it
 * (the commit that object names; null: none), `old` what git said the remote
 * had before.
 */
const pendingPushSchema = z.strictObject({
  version: z.literal(1),
  gitPid: z.int().check(z.positive()),
  remote: z.string().check(z.minLength(1)),
  url: z.string().check(z.minLength(1)),
  dvxRemote: z.string().check(z.minLength(1)),
  created: z.string(),
  refs: z
    .array(z.strictObject({ name: z.string().check(z.regex(/^refs\/(heads|tags)\//)), pushed: z.nullable(gitSha), sha: z.nullable(gitSha), old: z.nullable(gitSha) }))
    .check(z.minLength(1)),
});
export type PendingPush = z.infer<typeof pendingPushSchema>;

export function encodePendingPush(p: PendingPush): string {
  return `${JSON.stringify(pendingPushSchema.parse(p))}\n`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Validates a note: its fields, and that it is exactly what encodePendingPush writes. */
export function decodePendingPush(bytes: Uint8Array): PendingPush {
  let text: string;
  let json: unknown;
  try {
    text = utf8.decode(bytes);
    json = JSON.parse(text);
  } catch {
    throw new FormatError('pending push', 'not UTF-8 JSON');
  }
  const r = pendingPushSchema.safeParse(json);
  if (!r.success) throw new FormatError('pending push', `${r.error.issues[0]?.path.join('.') || 'body'}: ${r.error.issues[0]?.message}`);
  if (encodePendingPush(r.data) !== text) throw new FormatError('pending push', 'not in the form dvx writes');
  return r.data;
}

export interface PendingFile {
  path: string;
  push: PendingPush;
}

export class PendingPushes {
  private constructor(readonly dir: string) {}

  static of(root: string): PendingPushes {
    const p = gitSync(root, ['rev-parse', '--git-path', 'dvx-pending-pushes']).trim();
    return new PendingPushes(isAbsolute(p) ? p : join(root, p));
  }

  /** Writes a note (named by time, so that list() gives the oldest first). */
  add(push: PendingPush): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(join(this.dir, `${Date.now()}-${push.gitPid}-${randomBytes(3).toString('hex')}.json`), encodePendingPush(push));
  }

  /**
   * The notes, oldest first. One that does not decode (a crash cannot make
   * one: they are written atomically) is moved aside as `.bad`, reported once.
   */
  list(onBad: (path: string, reason: string) => void): PendingFile[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: PendingFile[] = [];
    for (const n of names) {
      const path = join(this.dir, n);
      let text: Buffer;
      try {
        text = readFileSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // settled meanwhile
        throw err;
      }
      try {
        out.push({ path, push: decodePendingPush(text) });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        try {
          renameSync(path, `${path}.bad`);
        } catch {
          // left where it is: reported again next time
        }
        onBad(path, err.message);
      }
    }
    return out;
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }

  /**
   * Runs `fn` holding the notes' lock (../pid-lock.ts), waiting up to `waitMs`
   * for another holder; not at all if there is no notes folder.
   */
  async locked(waitMs: number, fn: () => Promise<void>): Promise<void> {
    // No folder, no notes: and a settler must not make it again under a clone being deleted.
    if (!existsSync(this.dir)) return;
    let lock: PidLock;
    try {
      lock = await PidLock.acquire(join(this.dir, 'lock'), {
        what: 'settling pushes',
        waitMs,
        pollMs: 50,
        busy: (holder) => new DvxError('busy', `another dvx process (pid ${holder.pid ?? 'unknown'}) is settling earlier pushes (${this.dir})`, 'wait for it and push again'),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // the folder went: nothing left to settle
      throw err;
    }
    try {
      await fn();
    } finally {
      lock.release();
    }
  }
}
