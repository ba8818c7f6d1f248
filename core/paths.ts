import { FormatError } from './errors.ts';

/**
 * Paths inside tracked data and inside a repository, as they appear in tree
 * manifests, pointers and URLs: relative, '/'-separated, no empty, '.' or '..'
 * segment, no NUL or backslash, valid UTF-8, at most 4096 bytes. Checking here,
 * in one place, is what keeps a path from ever escaping the directory it names.
 */
export const MAX_PATH_BYTES = 4096;

export function pathProblem(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'is empty';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith('/')) return 'is absolute';
  if (path.includes('\\')) return 'contains a backslash';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (!path.isWellFormed()) return 'is not valid Unicode';
  for (const seg of path.split('/')) {
    if (seg === '') return 'has an empty segment';
    if (seg === '.' || seg === '..') return `has a '${seg}' segment`;
  }
  return undefined;
}

export function isSafeRelativePath(path: string): boolean {
  return pathProblem(path) === undefined;
}

export function assertSafeRelativePath(path: string, what: string): string {
  const problem = pathProblem(path);
  if (problem) throw new FormatError(what, `path ${JSON.stringify(path.slice(0, 200))} ${problem}`);
  return path;
}

/** Byte-wise (UTF-8) order: the one order of tree manifests, independent of locale. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Why a file must stay in git rather than become dvx data, if it must: git's
 * own control files anywhere, and the runner's files at the top. Tracking one
 * as data would list it in .gitignore, out of every commit.
 */
export function gitKeptFile(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === '.gitignore' || base === '.gitattributes' || base === '.gitmodules') return `is ${base}, which git reads and must keep`;
  if (path === 'dvx.yaml' || path === 'dvx.lock' || path === 'params.yaml') return `is ${path}, which the runner reads and git must keep`;
  return undefined;
}
