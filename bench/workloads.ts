import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prng, seededBytes } from '../test/support/prng.ts';
import { rmrf } from './lib/fsutil.ts';

/**
 * Seeded, deterministic workloads for `npm run bench`. Same seed and sizes give
 * byte-identical files on any machine. Each workload is generated lazily into
 * the work directory and reused while its stamp (a small JSON file holding the
 * generator version, the seed and every parameter) matches; a changed
 * parameter, seed or generator version regenerates it.
 *
 * Seeds: BENCH_SEED (below) for the events table, BENCH_SEED + 1 for the small
 * files, BENCH_SEED + 2 for the large file. PRNG: the SplitMix32-style
 * generator of test/support/prng.ts; the large file is AES-256-CTR over zeros
 * (key = SHA-256 of "dvx-bench large <seed>", IV = 16 zero bytes).
 *
 *   node --import tsx bench/workloads.ts [--quick]     generates (or checks) all three
 */
export const BENCH_SEED = 20250101;

export interface Sizes {
  /** size of events_v1.csv (generation stops at the first row that reaches it) */
  eventsBytes: number;
  eventsVersions: number;
  /** rows appended per version, as a fraction of the previous version's rows */
  appendFraction: number;
  /** rows rewritten in place per version, as a fraction of the previous version's rows */
  rewriteFraction: number;
  smallFiles: number;
  smallMin: number;
  smallMax: number;
  smallPerDir: number;
  largeBytes: number;
}

export const FULL: Sizes = {
  eventsBytes: 200_000_000,
  eventsVersions: 6,
  appendFraction: 0.02,
  rewriteFraction: 0.0005,
  smallFiles: 20_000,
  smallMin: 1024,
  smallMax: 16 * 1024,
  smallPerDir: 20,
  largeBytes: 1 << 30,
};

/** --quick: 1/8 of the events table and small files; 256 MiB for the large file. */
export const QUICK: Sizes = { ...FULL, eventsBytes: FULL.eventsBytes / 8, smallFiles: FULL.smallFiles / 8, largeBytes: 256 << 20 };

const here = dirname(fileURLToPath(import.meta.url));
export function workDir(): string {
  return resolve(process.env.DVX_BENCH_DIR ?? join(here, '.work'));
}

function dataDir(quick: boolean): string {
  return join(workDir(), 'data', quick ? 'quick' : 'full');
}

// ---------------------------------------------------------------- stamps

interface Stamp {
  workload: string;
  generator: number;
  seed: number;
  params: Record<string, unknown>;
  files: { path: string; bytes: number }[];
  extra?: Record<string, unknown>;
}

function stampMatches(dir: string, want: Omit<Stamp, 'files' | 'extra'>): Stamp | undefined {
  const path = join(dir, 'stamp.json');
  if (!existsSync(path)) return undefined;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
  if (stamp.workload !== want.workload || stamp.generator !== want.generator || stamp.seed !== want.seed) return undefined;
  if (JSON.stringify(stamp.params) !== JSON.stringify(want.params)) return undefined;
  for (const f of stamp.files) {
    const abs = join(dir, f.path);
    if (!existsSync(abs) || statSync(abs).size !== f.bytes) return undefined;
  }
  return stamp;
}

function writeStamp(dir: string, stamp: Stamp): void {
  writeFileSync(join(dir, 'stamp.json'), JSON.stringify(stamp, null, 2) + '\n');
}

function log(msg: string): void {
  process.stderr.write(`[workloads] ${msg}\n`);
}

// ---------------------------------------------------------------- events table

export interface EventsWorkload {
  dir: string;
  /** events_v1.csv ... events_vN.csv, absolute */
  files: string[];
  bytes: number[];
  rows: number[];
}

const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP', 'CA', 'ES', 'IT', 'NL', 'SE', 'PL', 'MX', 'AU', 'KR', 'TR', 'ID', 'NG', 'ZA', 'AR', 'CH', 'BE', 'AT', 'NO', 'DK', 'FI', 'IE', 'PT', 'CZ'];
const EVENT_TYPES = ['page_view', 'click', 'search', 'add_to_cart', 'purchase', 'login', 'logout', 'signup', 'share', 'refund'];
const DEVICES = ['ios', 'android', 'web_desktop', 'web_mobile', 'tablet'];
const HEADER = 'event_id,timestamp,user_id,session_id,country,event_type,device,amount,quantity,duration_s,score\n';
const BASE_MS = Date.UTC(2024, 0, 1);

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * One CSV row. The event id and timestamp follow from the row's position (the
 * table is in time order); every other field from the row's seed, so rewriting
 * a row means giving it a new seed. Field widths vary, so a rewritten row
 * usually changes length.
 */
function eventRow(index: number, seed: number): string {
  const r = prng(seed);
  const ts = new Date(BASE_MS + index * 1370 + (r() % 1370)).toISOString();
  const user = 1 + (r() % 2_000_000);
  const session = hex8(r()) + hex8(r());
  // Skewed categories (squares favour low indices), as real event logs are.
  const u = r() / 2 ** 32;
  const country = COUNTRIES[Math.floor(u * u * COUNTRIES.length)]!;
  const type = EVENT_TYPES[Math.floor((r() / 2 ** 32) ** 2 * EVENT_TYPES.length)]!;
  const device = DEVICES[r() % DEVICES.length]!;
  const money = type === 'purchase' || type === 'refund' || type === 'add_to_cart';
  const cents = money ? r() % 250_000 : 0;
  const amount = `${Math.floor(cents / 100)}.${pad(cents % 100, 2)}`;
  const qty = money ? 1 + (r() % 12) : 0;
  const ms = r() % 900_000;
  const duration = `${Math.floor(ms / 1000)}.${pad(ms % 1000, 3)}`;
  const score = `0.${pad(r() % 10_000, 4)}`;
  return `${index + 1},${ts},${user},${session},${country},${type},${device},${amount},${qty},${duration},${score}\n`;
}

/** Writes rows [0, n) of `seeds`; returns the bytes written. */
function writeEvents(path: string, seeds: Uint32Array, n: number): number {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  try {
    let buf = HEADER;
    for (let i = 0; i < n; i++) {
      buf += eventRow(i, seeds[i]!);
      if (buf.length >= 1 << 20) {
        bytes += writeSync(fd, buf, null, 'latin1');
        buf = '';
      }
    }
    bytes += writeSync(fd, buf, null, 'latin1');
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return bytes;
}

export function ensureEvents(sizes: Sizes, quick: boolean): EventsWorkload {
  const dir = join(dataDir(quick), 'events');
  const params = { eventsBytes: sizes.eventsBytes, versions: sizes.eventsVersions, appendFraction: sizes.appendFraction, rewriteFraction: sizes.rewriteFraction };
  const want = { workload: 'events', generator: 1, seed: BENCH_SEED, params };
  const names = Array.from({ length: sizes.eventsVersions }, (_, i) => `events_v${i + 1}.csv`);
  const ok = stampMatches(dir, want);
  if (ok) {
    return { dir, files: names.map((n) => join(dir, n)), bytes: ok.files.map((f) => f.bytes), rows: (ok.extra?.rows as number[]) ?? [] };
  }
  log(`generating the events table (${sizes.eventsVersions} versions of ~${(sizes.eventsBytes / 1e6).toFixed(0)} MB) in ${dir}`);
  const t0 = Date.now();
  rmrf(dir);
  mkdirSync(dir, { recursive: true });

  // Version 1: rows until the file reaches the target size.
  const rng = prng(BENCH_SEED);
  let cap = Math.ceil((sizes.eventsBytes / 100) * 1.3);
  let seeds = new Uint32Array(cap);
  const grow = (need: number) => {
    if (need <= cap) return;
    cap = Math.ceil(need * 1.25);
    const next = new Uint32Array(cap);
    next.set(seeds);
    seeds = next;
  };
  let n = 0;
  let size = HEADER.length;
  while (size < sizes.eventsBytes) {
    grow(n + 1);
    seeds[n] = rng();
    size += eventRow(n, seeds[n]!).length;
    n++;
  }
  const files: { path: string; bytes: number }[] = [];
  const rows: number[] = [];
  for (let v = 1; v <= sizes.eventsVersions; v++) {
    if (v > 1) {
      // Each version draws from its own stream, so versions do not depend on one another's draw counts.
      const r = prng(BENCH_SEED + 1000 * v);
      const rewrites = Math.round(n * sizes.rewriteFraction);
      for (let k = 0; k < rewrites; k++) seeds[r() % n] = r();
      const appends = Math.round(n * sizes.appendFraction);
      grow(n + appends);
      for (let k = 0; k < appends; k++) seeds[n + k] = r();
      n += appends;
    }
    const name = names[v - 1]!;
    const bytes = writeEvents(join(dir, name), seeds, n);
    files.push({ path: name, bytes });
    rows.push(n);
  }
  writeStamp(dir, { ...want, files, extra: { rows } });
  log(`events table done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, files: names.map((nm) => join(dir, nm)), bytes: files.map((f) => f.bytes), rows };
}

// ---------------------------------------------------------------- small files

export interface SmallFilesWorkload {
  /** the directory holding the tree (d00/d00/d00/f00.bin ...) */
  dir: string;
  files: number;
  bytes: number;
}

export function ensureSmallFiles(sizes: Sizes, quick: boolean): SmallFilesWorkload {
  const root = join(dataDir(quick), 'small');
  const dir = join(root, 'tree');
  const seed = BENCH_SEED + 1;
  const params = { files: sizes.smallFiles, minBytes: sizes.smallMin, maxBytes: sizes.smallMax, perDir: sizes.smallPerDir, levels: 3 };
  const want = { workload: 'small-files', generator: 1, seed, params };
  const ok = stampMatches(root, want);
  if (ok) return { dir, files: sizes.smallFiles, bytes: ok.extra?.bytes as number };
  log(`generating ${sizes.smallFiles} small files in ${dir}`);
  const t0 = Date.now();
  rmrf(root);
  const leaves = Math.ceil(sizes.smallFiles / sizes.smallPerDir);
  const fan = Math.ceil(Math.cbrt(leaves));
  const sizeRng = prng(seed);
  let total = 0;
  let lastLeaf = -1;
  for (let i = 0; i < sizes.smallFiles; i++) {
    const leaf = Math.floor(i / sizes.smallPerDir);
    const a = Math.floor(leaf / (fan * fan));
    const b = Math.floor(leaf / fan) % fan;
    const c = leaf % fan;
    const leafDir = join(dir, `d${pad(a, 2)}`, `d${pad(b, 2)}`, `d${pad(c, 2)}`);
    if (leaf !== lastLeaf) {
      mkdirSync(leafDir, { recursive: true });
      lastLeaf = leaf;
    }
    const size = sizes.smallMin + (sizeRng() % (sizes.smallMax - sizes.smallMin + 1));
    // A distinct seed per file: no two files share content.
    writeFileSync(join(leafDir, `f${pad(i % sizes.smallPerDir, 2)}.bin`), seededBytes((seed * 31 + i * 2654435761) >>> 0, size));
    total += size;
  }
  writeStamp(root, { ...want, files: [], extra: { bytes: total } });
  log(`small files done in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(total / 1e6).toFixed(1)} MB)`);
  return { dir, files: sizes.smallFiles, bytes: total };
}

// ---------------------------------------------------------------- large file

export interface LargeFileWorkload {
  file: string;
  bytes: number;
}

export function ensureLargeFile(sizes: Sizes, quick: boolean): LargeFileWorkload {
  const dir = join(dataDir(quick), 'large');
  const seed = BENCH_SEED + 2;
  const params = { bytes: sizes.largeBytes, cipher: 'aes-256-ctr' };
  const want = { workload: 'large-file', generator: 1, seed, params };
  const file = join(dir, 'large.bin');
  if (stampMatches(dir, want)) return { file, bytes: sizes.largeBytes };
  log(`generating the large file (${sizes.largeBytes} bytes) in ${dir}`);
  const t0 = Date.now();
  rmrf(dir);
  mkdirSync(dir, { recursive: true });
  const key = createHash('sha256').update(`dvx-bench large ${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(16 << 20);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < sizes.largeBytes; ) {
      const n = Math.min(zeros.length, sizes.largeBytes - done);
      const out = cipher.update(zeros.subarray(0, n));
      for (let w = 0; w < out.length; ) w += writeSync(fd, out, w, out.length - w);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  writeStamp(dir, { ...want, files: [{ path: 'large.bin', bytes: sizes.largeBytes }] });
  log(`large file done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { file, bytes: sizes.largeBytes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const quick = process.argv.includes('--quick');
  const sizes = quick ? QUICK : FULL;
  const ev = ensureEvents(sizes, quick);
  const sm = ensureSmallFiles(sizes, quick);
  const lg = ensureLargeFile(sizes, quick);
  console.log(JSON.stringify({ events: ev, small: sm, large: lg }, null, 2));
}
