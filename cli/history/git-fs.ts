import { promises as fsp, type Stats } from 'node:fs';
import type { PromiseFsClient } from 'isomorphic-git';

/**
 * The file system isomorphic-git reads a repository through, made cheap for
 * reading thousands of objects in one process (pre-push walks 1,000 commits).
 *
 * isomorphic-git pays, on every API call, for re-wrapping the file system
 * (probing it by calling readFile() without arguments, which makes Node build
 * an error with a stack trace), a stat of the git directory, and for every
 * object a failed open() of its loose path before it looks into the packs.
 * Here the probe is answered at once, stats and directory listings of the git
 * directory are remembered, and a loose object is looked up in its fan-out
 * directory's listing (one readdir per directory) instead of being opened.
 *
 * Remembered answers can go stale if git writes the repository meanwhile:
 * `forget()` drops them; GitHistory calls it and retries once when an object
 * is not found.
 */
export interface GitFs {
  readFile(path?: string, options?: unknown): Promise<unknown>;
  forget(): void;
}

const LOOSE = /\/objects\/([0-9a-f]{2})\/([0-9a-f]{38,62})$/;

/** A "no such file" error without a stack trace: isomorphic-git only looks at its code, thousands of times. */
function enoent(path: string): NodeJS.ErrnoException {
  const e = Object.create(Error.prototype) as NodeJS.ErrnoException;
  e.message = `ENOENT: no such file or directory, open '${path}'`;
  e.code = 'ENOENT';
  return e;
}

export function gitFs(gitdir: string): GitFs & PromiseFsClient {
  let stats = new Map<string, Promise<Stats>>();
  let listings = new Map<string, Promise<string[]>>();
  let looseDirs = new Map<string, Promise<Set<string>>>();
  const prefix = gitdir.endsWith('/') ? gitdir : `${gitdir}/`;
  const inGitdir = (p: string) => p.startsWith(prefix) || p === gitdir;

  const readdir = (path: string): Promise<string[]> => {
    if (!inGitdir(path)) return fsp.readdir(path);
    let l = listings.get(path);
    if (!l) {
      l = fsp.readdir(path);
      listings.set(path, l);
    }
    return l.then((names) => [...names]);
  };

  const client = {
    readFile(path?: string, options?: unknown): Promise<unknown> {
      // isomorphic-git's "is this a promise-based fs?" probe, made on every call.
      if (path === undefined) return Promise.resolve(undefined);
      const m = LOOSE.exec(path);
      if (m && inGitdir(path)) {
        const dir = path.slice(0, path.length - m[2]!.length - 1);
        let names = looseDirs.get(dir);
        if (!names) {
          names = fsp.readdir(dir).then((l) => new Set(l), () => new Set<string>());
          looseDirs.set(dir, names);
        }
        return names.then((n) => (n.has(m[2]!) ? fsp.readFile(path, options as never) : Promise.reject(enoent(path))));
      }
      return fsp.readFile(path, options as never);
    },
    stat(path: string, options?: unknown): Promise<Stats> {
      if (!inGitdir(path)) return fsp.stat(path, options as never) as Promise<Stats>;
      let s = stats.get(path);
      if (!s) {
        s = fsp.stat(path) as Promise<Stats>;
        stats.set(path, s);
      }
      return s;
    },
    readdir,
    lstat: (path: string, options?: unknown) => fsp.lstat(path, options as never),
    readlink: (path: string, options?: unknown) => fsp.readlink(path, options as never),
    // isomorphic-git binds these; GitHistory never writes.
    writeFile: () => Promise.reject(new Error('read-only')),
    mkdir: () => Promise.reject(new Error('read-only')),
    rmdir: () => Promise.reject(new Error('read-only')),
    unlink: () => Promise.reject(new Error('read-only')),
    symlink: () => Promise.reject(new Error('read-only')),
    rm: () => Promise.reject(new Error('read-only')),
    forget() {
      stats = new Map();
      listings = new Map();
      looseDirs = new Map();
    },
  };
  // The signatures are Node's fs.promises ones, which isomorphic-git's client type spells loosely.
  return client as unknown as GitFs & PromiseFsClient;
}
