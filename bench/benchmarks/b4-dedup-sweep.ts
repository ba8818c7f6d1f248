import { join } from 'node:path';
import type { ChunkerParams } from '../../core/chunker.ts';
import { Series, failures, measured, pairedRatio, verdict, type BenchResult, type Ctx, type Sample } from '../lib/bench.ts';
import { freshDir, linkFile, rmrf, treeBytes } from '../lib/fsutil.ts';
import { sync, warm } from '../lib/proc.ts';
import { fmtBytes, fmtInt, fmtSummary, KiB, summarize, table } from '../lib/stats.ts';
import { dvxCacheStats, Tools } from '../lib/tools.ts';
import { ensureEvents, type EventsWorkload } from '../workloads.ts';

/**
 * B4 "dedup-sweep": six versions of the events table (each appends 2 % rows
 * and rewrites 0.05 % of rows in place), stored one after the other, for
 * dvx at avg 8/16/32/64 KiB (min = avg/4, max = avg*4) and borg at the same
 * parameters; restic (its own ~1 MiB chunker) and git-lfs (whole objects) for
 * reference. Target: at the default avg, dvx stored bytes <= borg's.
 */
const AVGS_KIB = [8, 16, 32, 64];

const paramsFor = (k: number): ChunkerParams => ({ min: (k * KiB) / 4, avg: k * KiB, max: k * KiB * 4 });

interface VersionRun {
  wallS: number;
  rssKiB?: number;
  userS?: number;
  sysS?: number;
}

/** Places version v at <stage>/data/events.csv (hard link), warms it, syncs. */
function stageVersion(ev: EventsWorkload, v: number, stage: string): void {
  linkFile(ev.files[v]!, join(stage, 'data', 'events.csv'));
  warm(ev.files[v]!);
  sync();
}

/** Six commands as one sample: times and CPU summed, peak RSS the worst command's. */
function totals(runs: VersionRun[]): { wallS: number; rssKiB?: number; userS?: number; sysS?: number; versionWallS: number[] } {
  const rss = runs.map((r) => r.rssKiB).filter((x): x is number => x !== undefined);
  const sum = (k: 'userS' | 'sysS') => (runs.every((r) => r[k] !== undefined) ? runs.reduce((n, r) => n + r[k]!, 0) : undefined);
  return { wallS: runs.reduce((n, r) => n + r.wallS, 0), rssKiB: rss.length ? Math.max(...rss) : undefined, userS: sum('userS'), sysS: sum('sysS'), versionWallS: runs.map((r) => r.wallS) };
}

export async function dedupSweepBench(ctx: Ctx): Promise<BenchResult> {
  const ev = ensureEvents(ctx.sizes, ctx.quick);
  const raw = ev.bytes.reduce((a, b) => a + b, 0);
  const dir = join(ctx.work, 'b4');
  const t = ctx.tools;
  const dvx = new Map<number, Series>(AVGS_KIB.map((k) => [k, new Series(`dvx avg ${k} KiB`)]));
  const borg = new Map<number, Series>(AVGS_KIB.map((k) => [k, new Series(`borg avg ${k} KiB`)]));
  const restic = new Series('restic');
  const lfs = new Series('git-lfs');
  const DEFAULT_CHUNKER = ctx.defaultChunker;
  const defaultKiB = DEFAULT_CHUNKER.avg / KiB;
  const isDefaultShape = DEFAULT_CHUNKER.min === DEFAULT_CHUNKER.avg / 4 && DEFAULT_CHUNKER.max === DEFAULT_CHUNKER.avg * 4 && AVGS_KIB.includes(defaultKiB);

  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` rep ${rep}/${ctx.reps}`);
    for (const k of AVGS_KIB) {
      const params = paramsFor(k);
      await dvx.get(k)!.attempt(rep, ctx.log, async () => {
        const ws = await t.dvxWorkspace(join(dir, 'dvx'), params);
        try {
          const runs: VersionRun[] = [];
          const newBytes: number[] = [];
          const manifests: string[] = [];
          for (let v = 0; v < ev.files.length; v++) {
            stageVersion(ev, v, ws);
            const r = await t.dvx(ws, ['add', 'data/events.csv', '--json']);
            const out = JSON.parse(r.stdout) as { added: { size: number; manifest: string }[]; newBytes: number };
            if (out.added[0]?.size !== ev.bytes[v]) throw new Error(`v${v + 1}: dvx add reported size ${out.added[0]?.size}, expected ${ev.bytes[v]}`);
            runs.push(measured(r));
            newBytes.push(out.newBytes);
            manifests.push(out.added[0]!.manifest);
          }
          const cs = dvxCacheStats(join(ws, '.dvx', 'cache'));
          return {
            ...totals(runs),
            stored: cs.packBytes,
            chunkBytes: cs.chunkBytes,
            uniqueChunks: cs.chunks,
            manifestBytes: cs.manifestBytes,
            manifests: cs.manifests,
            packIndexBytes: cs.packIndexBytes,
            sqliteBytes: cs.sqliteBytes,
            packs: cs.packs,
            newBytes,
            versionChunks: manifests.map((m) => cs.manifestChunks.get(m) ?? NaN),
          };
        } finally {
          rmrf(ws);
        }
      });
      await borg.get(k)!.attempt(rep, ctx.log, async () => {
        const repo = join(dir, 'borg-repo');
        const stage = freshDir(join(dir, 'borg-stage'));
        t.resetToolState();
        await t.borgInit(repo);
        try {
          const runs: VersionRun[] = [];
          for (let v = 0; v < ev.files.length; v++) {
            stageVersion(ev, v, stage);
            const r = await t.borgCreate(repo, `v${v + 1}`, ['data/events.csv'], stage, params);
            runs.push(measured(r));
          }
          const info = await t.borgInfo(repo);
          return { ...totals(runs), stored: treeBytes(join(repo, 'data')), repoBytes: treeBytes(repo), ...info };
        } finally {
          rmrf(repo);
          rmrf(stage);
          t.resetToolState();
        }
      });
    }
    await restic.attempt(rep, ctx.log, async () => {
      const repo = join(dir, 'restic-repo');
      const stage = freshDir(join(dir, 'restic-stage'));
      t.resetToolState();
      await t.resticInit(repo);
      try {
        const runs: VersionRun[] = [];
        for (let v = 0; v < ev.files.length; v++) {
          stageVersion(ev, v, stage);
          const r = await t.resticBackup(repo, ['data/events.csv'], stage);
          runs.push(measured(r));
        }
        return { ...totals(runs), stored: treeBytes(join(repo, 'data')), repoBytes: treeBytes(repo) };
      } finally {
        rmrf(repo);
        rmrf(stage);
        t.resetToolState();
      }
    });
    await lfs.attempt(rep, ctx.log, async () => {
      const repo = await t.lfsRepo(join(dir, 'lfs'), '*.csv');
      try {
        const runs: VersionRun[] = [];
        for (let v = 0; v < ev.files.length; v++) {
          stageVersion(ev, v, repo);
          const r = await t.gitAdd(repo, ['data/events.csv']);
          runs.push(measured(r));
        }
        return { ...totals(runs), stored: Tools.lfsObjectBytes(repo) };
      } finally {
        rmrf(repo);
      }
    });
  }

  // ---------------------------------------------------------- report
  const first = (s: Series): Sample | undefined => s.samples[0];
  const num = (s: Series, key: string) => summarize(s.samples.map((x) => x[key]).filter((v): v is number => typeof v === 'number'));
  /** Stored bytes are deterministic; show the value, or the range if repetitions disagree. */
  const bytesCell = (s: Series, key = 'stored') => {
    const st = num(s, key);
    if (!st) return s.errors.length ? 'FAILED' : 'n/a';
    return st.min === st.max ? fmtBytes(st.median) : `${fmtBytes(st.median)} (varies: ${fmtInt(st.min)}–${fmtInt(st.max)})`;
  };
  const notes: string[] = [];
  for (const s of [...dvx.values(), ...borg.values(), restic, lfs]) {
    const st = num(s, 'stored');
    if (st && st.min !== st.max) {
      const why = s === restic ? ' Expected: restic draws a random chunker polynomial for each new repository.' : ' Unexpected: the workload and the chunker are deterministic.';
      notes.push(`- ${s.name}: stored bytes differ between repetitions (${fmtInt(st.min)}–${fmtInt(st.max)}).${why}`);
    }
  }

  const sweepRows: string[][] = [];
  for (const k of AVGS_KIB) {
    const d = dvx.get(k)!;
    const b = borg.get(k)!;
    const ds = first(d);
    const bs = first(b);
    const ratio = pairedRatio(d, b, (x, y) => (x.stored as number) / (y.stored as number));
    const p = paramsFor(k);
    const dvxMean = ds ? (ds.chunkBytes as number) / (ds.uniqueChunks as number) : NaN;
    const borgMean = bs && bs.uniqueChunks ? (bs.uniqueSize as number) / (bs.uniqueChunks as number) : NaN;
    sweepRows.push([
      `${k} KiB${k === defaultKiB && isDefaultShape ? ' (default)' : ''}`,
      `${p.min / KiB}/${p.avg / KiB}/${p.max / KiB}`,
      bytesCell(d),
      bytesCell(b),
      fmtSummary(ratio, 3),
      ds ? `${fmtInt(ds.uniqueChunks as number)} (${(dvxMean / KiB).toFixed(1)} KiB)` : 'n/a',
      bs && bs.uniqueChunks ? `${fmtInt(bs.uniqueChunks as number)} (${(borgMean / KiB).toFixed(1)} KiB)` : 'n/a',
      ds ? fmtBytes(ds.manifestBytes as number) : 'n/a',
      ds ? fmtBytes(ds.sqliteBytes as number) : 'n/a',
      fmtSummary(d.wall, 2),
      fmtSummary(b.wall, 2),
      fmtSummary(pairedRatio(d, b, (x, y) => y.wallS / x.wallS), 2),
    ]);
  }
  const sweepTable = table(
    ['avg', 'min/avg/max KiB', 'dvx stored', 'borg stored', 'dvx/borg stored', 'dvx unique chunks (mean)', 'borg unique chunks (mean)', 'dvx manifests', 'dvx index.sqlite', 'dvx time s (6 adds)', 'borg time s (6 creates)', 'dvx speed / borg'],
    sweepRows,
  );

  const ofRaw = (s: Series | undefined) => {
    const st = s && num(s, 'stored');
    return st ? (st.median / raw).toFixed(3) : 'n/a';
  };
  const refRow = (label: string, s: Series | undefined) => (s ? [label, bytesCell(s), ofRaw(s), fmtSummary(s.wall, 2), fmtSummary(s.cpuS, 2), fmtSummary(s.rssMiB, 0)] : [label, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a']);
  const refRows = [
    ['raw (six versions)', fmtBytes(raw), '1.000', '–', '–', '–'],
    refRow(`dvx (avg ${defaultKiB} KiB)`, dvx.get(defaultKiB)),
    refRow(`borg (avg ${defaultKiB} KiB)`, borg.get(defaultKiB)),
    refRow('restic (own chunker, repo v2, compression off): data/', restic),
    refRow('git-lfs (whole objects): .git/lfs/objects', lfs),
  ];

  // New bytes per version (dvx --json newBytes), and chunks per version (from the stored manifests).
  const perVersionRows: string[][] = ev.files.map((_, v) => {
    const cells = [`v${v + 1}`, fmtInt(ev.bytes[v]!)];
    for (const k of AVGS_KIB) {
      const s = first(dvx.get(k)!);
      const nb = (s?.newBytes as number[] | undefined)?.[v];
      const ch = (s?.versionChunks as number[] | undefined)?.[v];
      cells.push(nb === undefined ? 'n/a' : `${fmtInt(nb)} (${((100 * nb) / ev.bytes[v]!).toFixed(1)} %), ${fmtInt(ch)} chunks`);
    }
    return cells;
  });
  const perVersionTable = table(['version', 'size', ...AVGS_KIB.map((k) => `dvx new bytes @ ${k} KiB (% of version), chunks`)], perVersionRows);

  const breakdownRows = AVGS_KIB.map((k) => {
    const s = first(dvx.get(k)!);
    if (!s) return [`${k} KiB`, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
    const versionChunks = (s.versionChunks as number[]).reduce((a, b) => a + b, 0);
    return [
      `${k} KiB`,
      fmtInt(s.chunkBytes as number),
      `${fmtInt(s.manifestBytes as number)} (${s.manifests} blobs; = Σ(64 + 36·chunks) = ${fmtInt(ev.files.length * 64 + 36 * versionChunks)})`,
      fmtInt(s.packIndexBytes as number),
      `${fmtInt(s.stored as number)} in ${s.packs} packs`,
      fmtInt(s.sqliteBytes as number),
      fmtInt((s.stored as number) + (s.sqliteBytes as number)),
    ];
  });

  const borgRows = AVGS_KIB.map((k) => {
    const s = first(borg.get(k)!);
    if (!s) return [`${k} KiB`, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
    return [`${k} KiB`, fmtInt(s.stored as number), fmtInt(s.repoBytes as number), fmtInt(s.uniqueCsize as number), fmtInt(s.uniqueSize as number), `${fmtInt(s.uniqueChunks as number)} / ${fmtInt(s.totalChunks as number)}`];
  });

  const defD = dvx.get(defaultKiB);
  const defB = borg.get(defaultKiB);
  const defRatio = defD && defB ? pairedRatio(defD, defB, (x, y) => (x.stored as number) / (y.stored as number)) : undefined;
  const pass = isDefaultShape ? (defRatio ? defRatio.median <= 1 : null) : null;
  const md = [
    `Input: events_v1.csv … events_v${ev.files.length}.csv (${ev.bytes.map((b) => (b / 1e6).toFixed(1)).join(', ')} MB; raw total ${fmtBytes(raw)}). Each tool stores v1..v${ev.files.length} in turn as data/events.csv into one fresh store (hard link of the version, page-cached, \`sync\` before each command); time = sum of the six commands. Interleaved per avg (dvx, borg), then restic and git-lfs; x ${ctx.reps}; median (min–max).`,
    'dvx stored = sum of the sizes of .dvx/cache/packs/** (chunks + manifests + pack indexes); borg stored = size of the repo\'s data/ directory (segments: chunks + archive metadata + per-object headers); borg unique chunks and their mean size from `borg info --json`. "dvx manifests" = bytes of file-manifest blobs read from the packs (measured, = Σ(64 + 36·chunks) over the six versions); "dvx index.sqlite" = index.sqlite + -wal + -shm (not counted in "stored").',
    '',
    '### Sweep',
    '',
    sweepTable,
    '',
    '### Reference stores',
    '',
    table(['store', 'stored', 'stored / raw', 'time s (6 versions)', 'CPU s (user+sys, 6 versions)', 'peak RSS MiB (worst command)'], refRows),
    '',
    '### dvx new bytes and chunks per version',
    '',
    perVersionTable,
    '',
    '### dvx stored bytes, broken down',
    '',
    table(['avg', 'chunk bytes', 'manifest bytes', 'pack index + trailer bytes', 'pack files total', 'index.sqlite (+wal, shm)', 'packs + index'], breakdownRows),
    '',
    '### borg stored bytes, broken down',
    '',
    table(['avg', 'data/ bytes', 'whole repo bytes', 'unique csize (borg info)', 'unique size (borg info)', 'unique / referenced chunks'], borgRows),
    '',
    isDefaultShape
      ? `Target: at the default avg (${defaultKiB} KiB), dvx stored <= borg stored. Measured: dvx/borg = ${fmtSummary(defRatio, 3)}. ${verdict(pass)}`
      : `Target: the default parameters ${JSON.stringify(DEFAULT_CHUNKER)} are not one of the swept shapes (min = avg/4, max = avg*4); no verdict.`,
    notes.length ? `\nDeterminism:\n\n${notes.join('\n')}\n` : '',
    failures([...dvx.values(), ...borg.values(), restic, lfs]),
  ].join('\n');
  return {
    name: 'dedup-sweep',
    title: 'B4 dedup-sweep: six versions of the events table',
    target: `at the default avg, dvx stored <= borg stored`,
    pass,
    measured: `dvx/borg stored = ${fmtSummary(defRatio, 3)}`,
    markdown: md,
    errors: [...dvx.values(), ...borg.values(), restic, lfs].flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { versions: ev.bytes, rows: ev.rows, raw, dvx: Object.fromEntries(dvx), borg: Object.fromEntries(borg), restic, lfs, sweepTable },
  };
}
