import { parseDocument, stringify } from 'yaml';
import * as z from './zod.ts';
import { DvxError } from './errors.ts';
import { gitKeptFile, pathProblem } from './paths.ts';

/**
 * The pipeline file `dvx.yaml` (version 1) and its lock `dvx.lock`.
 *
 *   stages:
 *     train:
 *       cmd: python3 train.py          # run with /bin/sh -c
 *       deps: [train.py, data/valid.csv]
 *       outs: [models/model.json]      # tracked by dvx after each run
 *       params: [train.epochs]         # dotted keys of params.yaml
 *       metrics: [metrics/train.json]  # flat JSON or YAML of numbers
 *       retries: 2                     # extra attempts after a failure
 *       retry_delay: 5s                # before the first retry, doubled after each
 *       timeout: 10m                   # per attempt; kills the whole process group
 *       env: {SEED: "1"}
 *       wdir: src                      # where cmd runs (default: the repository root)
 *
 * All paths (deps, outs, metrics, wdir) are relative to the repository root,
 * whatever wdir says. Durations are seconds, or a number with s, m or h.
 */
const duration = z.union([z.number().check(z.nonnegative()), z.string().check(z.regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'use a number of seconds or e.g. "30s", "10m", "1h"'))]);
const relPath = z.string().check(
  z.superRefine((p, ctx) => {
    const problem = pathProblem(p.replace(/\/+$/, ''));
    if (problem) ctx.addIssue({ code: 'custom', message: `path ${JSON.stringify(p)} ${problem}` });
  }),
);
const stageName = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export const stageSchema = z.strictObject({
  cmd: z.string().check(z.minLength(1)),
  deps: z._default(z.array(relPath), []),
  outs: z._default(z.array(relPath), []),
  params: z._default(z.array(z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a dotted key of params.yaml'))), []),
  metrics: z._default(z.array(relPath), []),
  retries: z._default(z.int().check(z.gte(0), z.lte(100)), 0),
  retry_delay: z._default(duration, 1),
  timeout: z.optional(duration),
  env: z._default(z.record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')), z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform(String))), {}),
  wdir: z.optional(relPath),
});

export const pipelineSchema = z.strictObject({
  stages: z.record(z.string().check(z.regex(stageName, 'stage names are letters, digits, "_" and "-"')), stageSchema),
});

export type Stage = z.infer<typeof stageSchema> & { name: string };
export interface Pipeline {
  readonly stages: ReadonlyMap<string, Stage>;
  /** stage → stages it depends on (through an out of theirs) */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  /** stage names, dependencies first */
  readonly order: readonly string[];
}

export function durationSeconds(d: number | string | undefined): number | undefined {
  if (d === undefined) return undefined;
  if (typeof d === 'number') return d;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d)!;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

const norm = (p: string) => p.replace(/\/+$/, '');
const within = (a: string, b: string) => a === b || a.startsWith(b + '/');

/**
 * Parses and validates dvx.yaml: schema, then the graph. `exists(path)` says
 * whether a dep that no stage produces is present (a file, or tracked data).
 */
export function parsePipeline(text: string, file: string, exists: (path: string) => boolean): Pipeline {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new DvxError('bad_pipeline', `${file}: ${doc.errors[0]!.message}`);
  const parsed = pipelineSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    // A misspelt key also makes a required one missing: naming the misspelling is what helps.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    const known = issue.path.length >= 2 ? Object.keys(stageSchema.shape) : issue.path.length === 0 ? Object.keys(pipelineSchema.shape) : [];
    const unknown = issue.code === 'unrecognized_keys' && known.length ? ` (known keys: ${known.join(', ')})` : '';
    throw new DvxError('bad_pipeline', `${file}: ${where}: ${issue.message}${unknown}`);
  }
  const stages = new Map<string, Stage>();
  for (const [name, s] of Object.entries(parsed.data.stages)) {
    stages.set(name, { ...s, name, deps: s.deps.map(norm), outs: s.outs.map(norm), metrics: s.metrics.map(norm) });
  }
  for (const s of stages.values()) {
    for (const o of s.outs) {
      const problem = outProblem(o);
      if (problem) throw new DvxError('bad_pipeline', `${file}: stage ${s.name}: out ${o} ${problem}`, 'name the data the stage writes, elsewhere in the repository');
    }
  }
  // Who writes what: one writer per out, and no out inside another's.
  const producer = new Map<string, string>();
  for (const s of stages.values()) {
    for (const o of s.outs) {
      for (const [other, by] of producer) {
        if (within(o, other) || within(other, o)) {
          throw new DvxError('bad_pipeline', `${file}: stages ${by} and ${s.name} both write ${o === other ? o : `${other} and ${o}, one inside the other`}`, 'each out must have exactly one stage that writes it');
        }
      }
      producer.set(o, s.name);
    }
  }
  const upstream = new Map<string, string[]>();
  for (const s of stages.values()) {
    const ups = new Set<string>();
    for (const d of s.deps) {
      const by = [...producer].find(([o]) => within(d, o) || within(o, d))?.[1];
      if (by === s.name) throw new DvxError('bad_pipeline', `${file}: stage ${s.name} depends on its own out ${d}`);
      if (by) ups.add(by);
      else if (!exists(d)) throw new DvxError('bad_pipeline', `${file}: stage ${s.name} depends on ${d}, which no stage writes and which does not exist`, `create or \`dvx add\` ${d}, or add the stage that writes it`);
    }
    upstream.set(s.name, [...ups]);
  }
  return { stages, upstream, order: topoOrder(file, stages, upstream) };
}

/** Outs dvx would track over its own files, or git's: their pointers and .gitignore entries would break them. */
function outProblem(out: string): string | undefined {
  const first = out.split('/')[0]!;
  if (first === '.git' || first === '.dvx') return `is inside ${first}/, which dvx does not track`;
  if (out.endsWith('.dvx')) return 'ends in .dvx, the name of a pointer file';
  return gitKeptFile(out);
}

function topoOrder(file: string, stages: Map<string, Stage>, upstream: Map<string, string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new DvxError('bad_pipeline', `${file}: the stages form a cycle: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    for (const u of upstream.get(name) ?? []) visit(u, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of [...stages.keys()].sort()) visit(name, []);
  return order;
}

/** Every stage downstream of the given ones (not included). */
export function descendants(p: Pipeline, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...names];
  while (stack.length) {
    const n = stack.pop()!;
    for (const [s, ups] of p.upstream) if (ups.includes(n) && !out.has(s)) {
      out.add(s);
      stack.push(s);
    }
  }
  return out;
}

// ---- dvx.lock ----

/**
 * dvx.lock, version 1: what each stage last ran with, written by `dvx repro`
 * and committed. One canonical text: stages, deps, outs and params sorted.
 */
export interface LockedFile {
  path: string;
  sha256: string;
  size?: number;
  manifest?: string;
  type?: 'file' | 'dir';
}

export interface LockedStage {
  cmd: string;
  deps: LockedFile[];
  params: Record<string, unknown>;
  outs: LockedFile[];
}

const lockedFile = z.strictObject({
  path: z.string(),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  size: z.optional(z.int().check(z.nonnegative())),
  manifest: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
  type: z.optional(z.enum(['file', 'dir'])),
});
const lockSchema = z.strictObject({
  version: z.literal(1),
  stages: z.record(z.string(), z.strictObject({ cmd: z.string(), deps: z._default(z.array(lockedFile), []), params: z._default(z.record(z.string(), z.unknown()), {}), outs: z._default(z.array(lockedFile), []) })),
});

export function parseLock(text: string, file: string): Map<string, LockedStage> {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new DvxError('bad_lock', `${file}: ${doc.errors[0]!.message}`, 'restore it from git, or delete it to re-run every stage');
  const parsed = lockSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DvxError('bad_lock', `${file}: ${issue.path.join('.')}: ${issue.message}`, 'restore it from git, or delete it to re-run every stage');
  }
  return new Map(Object.entries(parsed.data.stages));
}

export function encodeLock(stages: ReadonlyMap<string, LockedStage>): string {
  const byPath = (a: LockedFile, b: LockedFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const sortedParams = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : 1)));
  const body = {
    version: 1,
    stages: Object.fromEntries(
      [...stages]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, s]) => [name, { cmd: s.cmd, deps: [...s.deps].sort(byPath), params: sortedParams(s.params), outs: [...s.outs].sort(byPath) }]),
    ),
  };
  return `# dvx.lock: what each stage of dvx.yaml last ran with. Written by \`dvx repro\`; commit it.\n${stringify(body, { lineWidth: 0 })}`;
}
