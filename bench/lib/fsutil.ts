import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './proc.ts';

/** Sum of the apparent sizes of regular files under `path` (a file: its size; missing: 0). */
export function treeBytes(path: string, filter?: (rel: string) => boolean): number {
  if (!existsSync(path)) return 0;
  let total = 0;
  const visit = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      for (const name of readdirSync(abs)) visit(join(abs, name), rel ? `${rel}/${name}` : name);
    } else if (st.isFile() && (!filter || filter(rel))) {
      total += st.size;
    }
  };
  visit(path, '');
  return total;
}

export function fileCount(path: string): number {
  if (!existsSync(path)) return 0;
  let n = 0;
  const visit = (abs: string) => {
    const st = lstatSync(abs);
    if (st.isDirectory()) for (const name of readdirSync(abs)) visit(join(abs, name));
    else if (st.isFile()) n++;
  };
  visit(path);
  return n;
}

export function rmrf(path: string): void {
  rmSync(path, { recursive: true, force: true, maxRetries: 3 });
}

export function freshDir(path: string): string {
  rmrf(path);
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * Places `src` at `dest` as a hard link: same inode, so the page cache warmed
 * for the source serves the copy, and no bytes are duplicated on disk. Tools
 * only read their inputs; dvx checkout replaces files by rename, never in place.
 */
export function linkFile(src: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  if (existsSync(dest)) unlinkSync(dest);
  linkSync(src, dest);
}

/** Hard-links a whole directory tree (`cp -al`). */
export async function linkTree(src: string, dest: string): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  rmrf(dest);
  await run(['cp', '-al', src, dest]);
}
