import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChunkerParams } from '../../core/chunker.ts';
import { freshDir, rmrf, treeBytes } from './fsutil.ts';
import { run, timed, type RunResult } from './proc.ts';

/**
 * How the benchmarks drive dvx and its peers. Every tool runs with a scratch
 * HOME under the work directory (borg's and restic's caches and keys land
 * there, the user's git config is not read), so runs are independent of the
 * machine's state and leave nothing behind.
 */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The shared build (scripts/build.mjs); the harness normally runs its own snapshot (lib/build.ts). */
export const DIST_BIN = join(REPO_ROOT, 'dist', 'dvx', 'dvx.js');

export class Tools {
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;

  /** `dvxBin`: the compiled CLI entry point to run (bin.js). */
  constructor(readonly work: string, readonly dvxBin: string = DIST_BIN) {
    this.home = join(work, 'home');
    mkdirSync(this.home, { recursive: true });
    this.env = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: this.home,
      TMPDIR: process.env.TMPDIR,
      XDG_CACHE_HOME: join(this.home, '.cache'),
      XDG_CONFIG_HOME: join(this.home, '.config'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.invalid',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.invalid',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_BASE_DIR: join(this.home, 'borg'),
      RESTIC_PASSWORD: 'bench',
      RESTIC_CACHE_DIR: join(this.home, 'restic-cache'),
      DVX_NO_PROGRESS: '1',
    };
    for (const k of Object.keys(this.env)) if (this.env[k] === undefined) delete this.env[k];
  }

  /** Drops the tools' caches (borg's chunk index and files cache, restic's cache): each measured run starts cold on tool state. */
  resetToolState(): void {
    rmrf(join(this.home, 'borg'));
    rmrf(join(this.home, 'restic-cache'));
    rmrf(join(this.home, '.cache'));
  }

  // ------------------------------------------------------------ dvx

  dvxCmd(args: string[]): string[] {
    return [process.execPath, this.dvxBin, ...args];
  }

  /** A fresh git repository with `dvx init` run, optionally with chunker parameters in .dvx/config.yaml. */
  async dvxWorkspace(dir: string, chunker?: ChunkerParams): Promise<string> {
    freshDir(dir);
    await run(['git', 'init', '-q', dir], { env: this.env });
    await run(this.dvxCmd(['init', '-q']), { cwd: dir, env: this.env });
    if (chunker) {
      writeFileSync(
        join(dir, '.dvx', 'config.yaml'),
        `# dvx configuration (written by bench/)\nversion: 1\nchunker:\n  min: ${chunker.min}\n  avg: ${chunker.avg}\n  max: ${chunker.max}\n`,
      );
    }
    return dir;
  }

  async dvx(ws: string, args: string[], opts: { timed?: boolean } = {}): Promise<RunResult> {
    const cmd = this.dvxCmd(args);
    return opts.timed === false ? run(cmd, { cwd: ws, env: this.env }) : timed(cmd, { cwd: ws, env: this.env });
  }

  // ------------------------------------------------------------ borg

  async borgInit(repo: string): Promise<void> {
    rmrf(repo);
    await run(['borg', 'init', '-e', 'none', repo], { env: this.env });
  }

  /** borg's --chunker-params for dvx parameters: buzhash,<log2 min>,<log2 max>,<log2 avg>,4095 */
  static borgChunker(p: ChunkerParams): string {
    const l = (x: number) => {
      const b = Math.log2(x);
      if (!Number.isInteger(b)) throw new Error(`borg needs powers of two, got ${x}`);
      return b;
    };
    return `buzhash,${l(p.min)},${l(p.max)},${l(p.avg)},4095`;
  }

  borgCreate(repo: string, archive: string, paths: string[], cwd: string, chunker: ChunkerParams): Promise<RunResult> {
    return timed(['borg', 'create', '--compression', 'none', '--chunker-params', Tools.borgChunker(chunker), `${repo}::${archive}`, ...paths], { cwd, env: this.env });
  }

  async borgInfo(repo: string): Promise<{ uniqueCsize?: number; uniqueSize?: number; uniqueChunks?: number; totalChunks?: number }> {
    const r = await run(['borg', 'info', '--json', repo], { env: this.env });
    const s = (JSON.parse(r.stdout) as { cache?: { stats?: Record<string, number> } }).cache?.stats ?? {};
    return { uniqueCsize: s.unique_csize, uniqueSize: s.unique_size, uniqueChunks: s.total_unique_chunks, totalChunks: s.total_chunks };
  }

  // ------------------------------------------------------------ restic

  async resticInit(repo: string): Promise<void> {
    rmrf(repo);
    await run(['restic', 'init', '-q', '--repo', repo, '--repository-version', '2'], { env: this.env });
  }

  resticBackup(repo: string, paths: string[], cwd: string): Promise<RunResult> {
    return timed(['restic', 'backup', '-q', '--repo', repo, '--compression', 'off', ...paths], { cwd, env: this.env });
  }

  // ------------------------------------------------------------ git + git-lfs

  /** A fresh git repository with git-lfs installed locally, tracking `pattern`; .gitattributes staged (itself not in LFS). */
  async lfsRepo(dir: string, pattern: string): Promise<string> {
    freshDir(dir);
    await run(['git', 'init', '-q', dir], { env: this.env });
    await run(['git', 'lfs', 'install', '--local'], { cwd: dir, env: this.env });
    await run(['git', 'lfs', 'track', pattern], { cwd: dir, env: this.env });
    await run(['git', 'add', '.gitattributes'], { cwd: dir, env: this.env });
    return dir;
  }

  gitAdd(repo: string, paths: string[]): Promise<RunResult> {
    return timed(['git', 'add', '--', ...paths], { cwd: repo, env: this.env });
  }

  static lfsObjectBytes(repo: string): number {
    return treeBytes(join(repo, '.git', 'lfs', 'objects'));
  }
}

// ------------------------------------------------------------ dvx cache layout

export interface DvxCacheStats {
  /** sum of the sizes of .dvx/cache/packs/** */
  packBytes: number;
  packs: number;
  /** bytes of chunk blobs (type 1) in the packs */
  chunkBytes: number;
  chunks: number;
  /** bytes of file- and tree-manifest blobs (types 2, 3) in the packs */
  manifestBytes: number;
  manifests: number;
  /** pack indexes and trailers: 44 bytes per blob + 12 per pack */
  packIndexBytes: number;
  /** index.sqlite plus its -wal and -shm files */
  sqliteBytes: number;
  /** chunk count of each file manifest, by manifest id */
  manifestChunks: Map<string, number>;
}

/**
 * Reads a dvx cache directly from its documented on-disk format (core/pack.ts:
 * blobs, then 44-byte index entries, then "DVXPACK1" and the index length), so
 * that what is stored can be broken down without trusting the writer's counts.
 */
export function dvxCacheStats(cacheDir: string): DvxCacheStats {
  const s: DvxCacheStats = { packBytes: 0, packs: 0, chunkBytes: 0, chunks: 0, manifestBytes: 0, manifests: 0, packIndexBytes: 0, sqliteBytes: 0, manifestChunks: new Map() };
  const packsDir = join(cacheDir, 'packs');
  const packFiles: string[] = [];
  if (existsSync(packsDir)) for (const sub of readdirSync(packsDir)) for (const name of readdirSync(join(packsDir, sub))) packFiles.push(join(packsDir, sub, name));
  const trailer = Buffer.alloc(12);
  for (const file of packFiles) {
    const size = statSync(file).size;
    s.packBytes += size;
    s.packs++;
    const fd = openSync(file, 'r');
    try {
      readSync(fd, trailer, 0, 12, size - 12);
      if (trailer.subarray(0, 8).toString('latin1') !== 'DVXPACK1') throw new Error(`${file}: not a dvx pack`);
      const indexLen = trailer.readUInt32LE(8);
      s.packIndexBytes += indexLen + 12;
      const index = Buffer.alloc(indexLen);
      readSync(fd, index, 0, indexLen, size - 12 - indexLen);
      for (let at = 0; at < indexLen; at += 44) {
        const type = index[at + 32]!;
        const offset = index.readUInt32LE(at + 36);
        const length = index.readUInt32LE(at + 40);
        if (type === 1) {
          s.chunks++;
          s.chunkBytes += length;
        } else {
          s.manifests++;
          s.manifestBytes += length;
          if (type === 2) {
            // File manifest: chunk count is the u32 at byte 60 of the blob.
            const n = Buffer.alloc(4);
            readSync(fd, n, 0, 4, offset + 60);
            s.manifestChunks.set(index.subarray(at, at + 32).toString('hex'), n.readUInt32LE(0));
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  for (const f of ['index.sqlite', 'index.sqlite-wal', 'index.sqlite-shm']) {
    const p = join(cacheDir, f);
    if (existsSync(p)) s.sqliteBytes += statSync(p).size;
  }
  return s;
}
