import { spawn, execFile as execFileCb } from 'node:child_process';
import { appendFileSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DvxError } from '../../core/errors.ts';
import { gitSync } from '../git.ts';
import { processAlive } from '../pid.ts';
import { SETTLE_HOOK } from '../hooks/installer.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { PendingPushes, type PendingFile, type PendingPush } from './pending-pushes.ts';
import { openRemote } from './resolve.ts';

const execFile = promisify(execFileCb);

/**
 * Settles the refs pre-push recorded against what the git remote accepted.
 *
 * pre-push must record the refs being pushed before git sends anything: git
 * has no hook after a push. But git may then not move the remote's refs: a
 * `--dry-run`, a rejection by the remote (a protected branch, a pre-receive
 * hook, a teammate's push just before), a broken connection. The server would
 * go on serving, under `main`, a commit that `main` never named. So pre-push
 * leaves a note (./pending-pushes.ts) and starts a detached shell that waits
 * for that `git push` to exit and then runs `dvx hook settle-push`, which
 * learns what each ref is on the remote: the remote-tracking ref that git
 * moves after a push it completed, else `git ls-remote`. A ref the push did
 * not move is set back to what the remote has (deleted if the remote has no
 * such ref, or has a commit dvx has no record of), compare-and-swap: a newer
 * push recorded meanwhile stands. The next pre-push settles any note whose
 * settler did not (killed, machine off), before it records anything, so that
 * an old correction never undoes the new push.
 */
const LOG_FILE = 'push-settle.log';
/** The way out when dvx cannot tell or cannot fix what git pushed. */
const BY_HAND = '`dvx push --commits --force` with the branches or tags as the remote has them puts the dvx server right';
/** How long a note whose settling keeps failing for a reason that may pass is kept. */
const KEEP_FAILING_MS = 30 * 24 * 3600_000;

export interface SettleLog {
  /** a line for .dvx/logs/push-settle.log */
  log(line: string): void;
  /** what the user should see when someone is watching (pre-push); the background settler logs it only */
  tell(line: string): void;
}

export function settleLog(ws: Workspace, toTerminal: boolean): SettleLog {
  const dir = join(ws.dvxDir, 'logs');
  const log = (line: string) => {
    try {
      // Never a mkdir here: a settler outliving its clone (a scratch clone deleted right after
      // the push) must not make any of it again. pre-push made the folder when it started one.
      appendFileSync(join(dir, LOG_FILE), `${new Date().toISOString()} ${line}\n`);
    } catch {
      // a log that cannot be written must not fail a push
    }
  };
  return {
    log,
    tell: (line) => {
      log(line);
      if (toTerminal) process.stderr.write(`dvx: ${line}\n`);
    },
  };
}

/**
 * Starts the detached settler of a push; its output goes to the settle log.
 * A shell waits for the `git push` to exit and only then starts node: a node
 * started at once would load dvx while git sends its pack, on the same cores.
 */
export function startSettler(ws: Workspace, gitPid: number): void {
  const dir = join(ws.dvxDir, 'logs');
  mkdirSync(dir, { recursive: true });
  const out = openSync(join(dir, LOG_FILE), 'a');
  const wait = 'while kill -0 "$1" 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; done; shift; exec "$@"';
  const child = spawn('/bin/sh', ['-c', wait, 'dvx-settle-push', String(gitPid), process.execPath, process.argv[1]!, 'hook', SETTLE_HOOK], {
    cwd: ws.root,
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
}

/** The background settler, once its `git push` has exited: settles every note whose push is over. */
export async function settleAfterPush(ws: Workspace): Promise<void> {
  await settleFinished(ws, PendingPushes.of(ws.root), settleLog(ws, false), 120_000);
}

/** pre-push: settles the notes of pushes that are over, before this push records anything. */
export async function settleBeforePush(ws: Workspace, pending: PendingPushes): Promise<void> {
  const out = settleLog(ws, true);
  if (pending.list((p, why) => out.tell(`an earlier push's note ${p} is damaged (${why}); moved aside`)).length === 0) return;
  await settleFinished(ws, pending, out, 60_000);
}

async function settleFinished(ws: Workspace, pending: PendingPushes, out: SettleLog, lockWaitMs: number): Promise<void> {
  await pending.locked(lockWaitMs, async () => {
    // Listed again under the lock: another settler may have done some.
    for (const f of pending.list((p, why) => out.log(`${p}: ${why}; moved aside`))) {
      if (processAlive(f.push.gitPid)) continue;
      try {
        await settle(ws, f, out);
        pending.remove(f.path);
      } catch (err) {
        // Kept for the next push to retry while the trouble may pass (the server down, a token to renew),
        // for a month at most; any other failure would only repeat on every push.
        const code = err instanceof DvxError ? err.code : '';
        const passing = (code === 'remote_unavailable' || code === 'unauthorized') && Date.now() - Date.parse(f.push.created) < KEEP_FAILING_MS;
        if (!passing) pending.remove(f.path);
        out.tell(
          `could not settle the refs of an earlier push (${f.push.refs.map((r) => r.name).join(', ')}): ${(err as Error).message}; ` +
            (passing ? 'the next push tries again' : `given up: if git did not push them, ${BY_HAND}`),
        );
      }
    }
  });
}

async function settle(ws: Workspace, f: PendingFile, out: SettleLog): Promise<void> {
  const p = f.push;
  const fixes: { ref: PendingPush['refs'][number]; has: RemoteRef }[] = [];
  for (const ref of p.refs) {
    const has = await remoteHas(ws.root, p, ref.name, ref.pushed);
    if (has === undefined) {
      out.tell(`could not learn whether git pushed ${ref.name} to ${p.url}; if it did not, ${BY_HAND}`);
    } else if (has.object !== ref.pushed) {
      fixes.push({ ref, has });
    }
  }
  if (fixes.length === 0) return out.log(`${f.path}: the remote has what was pushed (${p.refs.map((r) => r.name).join(', ')})`);
  const remote = openRemote(ws, p.dvxRemote);
  try {
    const commits = fixes.flatMap((x) => (x.has.commit ? [x.has.commit] : []));
    const known = commits.length > 0 ? await remote.knownCommits(commits) : new Set<string>();
    const target = (has: RemoteRef) => (has.commit && known.has(has.commit) ? has.commit : null);
    const r = await remote.recordCommits({ commits: [], refs: fixes.map(({ ref, has }) => ({ name: ref.name, sha: target(has), expect: ref.sha })) });
    const skipped = new Set(r.skipped ?? []);
    for (const { ref, has } of fixes) {
      const what = `git did not push ${ref.name} (${short(ref.pushed)}) to ${p.url}`;
      if (skipped.has(ref.name)) {
        out.log(`${what}, but the dvx server's ${ref.name} has moved since: left as it is`);
        continue;
      }
      const t = target(has);
      const now = t ? `back to ${short(t)}, as on the remote` : has.commit && has.commit === has.object ? `deleted: the remote has ${short(has.commit)}, which the dvx server has no record of (\`dvx push --commits\` of it records it)` : 'deleted, as the remote names no commit there';
      out.tell(`${what}: the dvx server's ${ref.name} is ${now}`);
    }
  } finally {
    remote.close();
  }
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 8) : 'a deletion';
}

/** A ref on the git remote: the object it names, and the commit that is (a tag peeled), if any. */
interface RemoteRef {
  object: string | null;
  commit: string | null;
}

/**
 * What a ref names on the git remote now (object null: no such ref);
 * undefined if that cannot be learnt. The remote-tracking ref answers
 * without the network when it shows the push went through; otherwise the
 * remote is asked.
 */
async function remoteHas(root: string, p: PendingPush, name: string, pushed: string | null): Promise<RemoteRef | undefined> {
  const named = p.remote !== p.url;
  const tracking = named ? trackingRef(root, p.remote, name) : undefined;
  const trackingHas = tracking === undefined ? undefined : gitSync(root, ['rev-parse', '-q', '--verify', '--end-of-options', tracking], { allowFail: true }).trim() || null;
  if (trackingHas !== undefined && trackingHas === pushed) return { object: trackingHas, commit: trackingHas };
  // A relative path is the remote's URL as the remote's config spells it: let git resolve it by the name.
  const where = named && !/^([a-z][a-z0-9+.-]*:\/\/|[^/]*:|\/)/i.test(p.url) ? p.remote : p.url;
  try {
    // The peeled line of an annotated tag (`^{}`) is listed only when asked for by name.
    const { stdout } = await execFile('git', ['ls-remote', '--', where, name, `${name}^{}`], {
      cwd: root,
      timeout: 60_000,
      encoding: 'utf8',
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    });
    const found = new Map(stdout.split('\n').map((l) => l.split('\t')).filter((x) => x.length === 2).map(([s, r]) => [r!, s!]));
    const object = found.get(name) ?? null;
    return { object, commit: found.get(`${name}^{}`) ?? object };
  } catch {
    return trackingHas === undefined ? undefined : { object: trackingHas, commit: trackingHas };
  }
}

/** Where git keeps its copy of a remote's ref (remote.<name>.fetch), if it does. */
export function trackingRef(root: string, remote: string, name: string): string | undefined {
  const specs = gitSync(root, ['config', '--get-all', `remote.${remote}.fetch`], { allowFail: true }).split('\n').filter(Boolean);
  for (const raw of specs) {
    if (raw.startsWith('^')) continue;
    const [src, dst] = raw.replace(/^\+/, '').split(':');
    if (!src || !dst) continue;
    const star = src.indexOf('*');
    if (star < 0) {
      if (src === name) return dst;
      continue;
    }
    const [pre, post] = [src.slice(0, star), src.slice(star + 1)];
    if (name.length > pre.length + post.length && name.startsWith(pre) && name.endsWith(post)) return dst.replace('*', name.slice(pre.length, name.length - post.length));
  }
  return undefined;
}
