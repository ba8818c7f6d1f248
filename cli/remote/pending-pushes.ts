import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { DvxError, FormatError } from '../../core/errors.ts';
import * as z from '../../core/zod.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { gitSync } from '../git.ts';
import { processAlive } from '../pid.ts';

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
const gitSha = z.string().check(z.regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/));
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

  /** Writes a note and returns its path. */
  add(push: PendingPush): string {
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, `${Date.now()}-${push.gitPid}-${randomBytes(3).toString('hex')}.json`);
    writeFileAtomic(path, encodePendingPush(push));
    return path;
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
        rmSync(`${path}.bad`, { force: true });
        try {
          writeFileAtomic(`${path}.bad`, text);
          rmSync(path, { force: true });
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
   * Runs `fn` holding the notes' lock (a file naming its holder's pid; a dead
   * holder's lock is taken over), waiting up to `waitMs` for another holder;
   * not at all if there is no notes folder.
   */
  async locked(waitMs: number, fn: () => Promise<void>): Promise<void> {
    // No folder, no notes: and a settler must not make it again under a clone being deleted.
    if (!existsSync(this.dir)) return;
    const lock = join(this.dir, 'lock');
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // the folder went: nothing left to settle
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim()) || 0;
      } catch {
        continue; // released meanwhile
      }
      if (holder && !processAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new DvxError('busy', `another dvx process (pid ${holder || 'unknown'}) is settling earlier pushes (${lock})`, 'wait for it and push again');
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }
}
