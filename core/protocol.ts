import * as z from './zod.ts';
import { FormatError } from './errors.ts';

/**
 * The dvx HTTP protocol, version 1: what client and server both need to agree
 * on (paths, media types, limits, body shapes). docs/protocol.md describes the
 * exchanges; the server's OpenAPI document (/api/v1/openapi.json) lists every
 * route. Bodies are JSON except id lists and packs, which are binary because
 * they are most of the bytes of a push.
 */
export const API_PREFIX = '/api/v1';

export const MediaType = {
  json: 'application/json',
  /** concatenated raw 32-byte ids, no separator, no header */
  ids: 'application/vnd.dvx.ids',
  /** a pack, format of core/pack.ts */
  pack: 'application/vnd.dvx.pack',
} as const;

export const Limits = {
  /** ids per negotiation or fetch request */
  maxIdsPerRequest: 20_000,
  /** blob bytes per fetch response */
  maxFetchBytes: 64 * 1024 * 1024,
} as const;

export const Scope = { read: 'read', write: 'write', admin: 'admin' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];
/** read < write < admin: a scope allows everything a lower one does. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** Encodes ids (64-hex each) as the binary id list. */
export function encodeIdList(ids: readonly string[]): Buffer {
  const out = Buffer.allocUnsafe(32 * ids.length);
  ids.forEach((id, i) => {
    if (out.write(id, 32 * i, 32, 'hex') !== 32 || !/^[0-9a-f]{64}$/.test(id)) throw new FormatError('id list', `bad id ${JSON.stringify(id)}`);
  });
  return out;
}

/** Decodes a binary id list, refusing ragged or oversized input. */
export function decodeIdList(bytes: Uint8Array, max: number = Limits.maxIdsPerRequest): string[] {
  if (bytes.length % 32 !== 0) throw new FormatError('id list', `${bytes.length} bytes is not a whole number of 32-byte ids`);
  const n = bytes.length / 32;
  if (n > max) throw new FormatError('id list', `${n} ids is more than the limit of ${max} per request`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ids: string[] = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = buf.toString('hex', 32 * i, 32 * i + 32);
  return ids;
}

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

const hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/));

/** PUT /repos/{repo}/packs/{id} */
export const packPutResponseSchema = z.object({
  pack: hex64,
  blobs: z.int(),
  /** blobs this upload made known to the repository */
  newBlobs: z.int(),
  /** false when the server already had this exact pack */
  stored: z.boolean(),
});
export type PackPutResponse = z.infer<typeof packPutResponseSchema>;

/** GET /repos/{repo} */
export const repoInfoSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
  blobs: z.int(),
  bytes: z.int(),
});
export type RepoInfo = z.infer<typeof repoInfoSchema>;

/** POST /repos/{repo}/uploads: one entry per file part */
export const uploadResponseSchema = z.object({
  files: z.array(
    z.object({
      field: z.string(),
      name: z.string(),
      size: z.int(),
      sha256: hex64,
      manifest: hex64,
      newBytes: z.int(),
      url: z.string(),
    }),
  ),
});
export type UploadResponse = z.infer<typeof uploadResponseSchema>;

/** A directory answered as JSON by the files route. */
export const dirListingSchema = z.object({
  type: z.literal('dir'),
  path: z.string(),
  sha256: hex64,
  size: z.int(),
  files: z.int(),
  entries: z.array(z.object({ path: z.string(), type: z.enum(['file', 'dir']), size: z.int(), sha256: z.optional(hex64), files: z.optional(z.int()) })),
});
export type DirListing = z.infer<typeof dirListingSchema>;

/**
 * POST /repos/{repo}/blobs/missing with `application/json` (for scripts and
 * curl; the CLI uses the binary form): at most maxIdsPerRequest ids.
 */
export const missingRequestSchema = z.strictObject({ ids: z.array(hex64).check(z.maxLength(Limits.maxIdsPerRequest)) });
export type MissingRequest = z.infer<typeof missingRequestSchema>;
export const missingResponseSchema = z.object({ missing: z.array(hex64) });
export type MissingResponse = z.infer<typeof missingResponseSchema>;

// ---- Commit records (git integration); see docs/protocol.md ----

export const Commits = {
  /** shas per commits/known request */
  maxKnownShas: 10_000,
  /** commits per commits request */
  maxPerRequest: 1_000,
  maxBodyBytes: 32 * 1024 * 1024,
} as const;

/** A git object id: SHA-1 or SHA-256, lowercase hex. */
export const gitSha = z.string().check(z.regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/));
/** 1 to 4096 characters */
const pathString = () => z.string().check(z.minLength(1), z.maxLength(4096));
const count = () => z.int().check(z.nonnegative());

export const recordPointerSchema = z.strictObject({
  path: pathString(),
  type: z.enum(['file', 'dir']),
  size: count(),
  files: z.optional(count()),
  sha256: hex64,
  manifest: hex64,
});
export type RecordPointer = z.infer<typeof recordPointerSchema>;

const personSchema = z.strictObject({
  name: z.string().check(z.maxLength(1000)),
  email: z.string().check(z.maxLength(1000)),
  time: z.int(),
  tz: z.string().check(z.regex(/^[+-]\d{4}$/)),
});

export const commitRecordSchema = z
  .strictObject({
    sha: gitSha,
    parents: z.array(gitSha).check(z.maxLength(64)),
    author: personSchema,
    committer: personSchema,
    message: z.string().check(z.maxLength(1_000_000)),
    pointers: z.optional(z.array(recordPointerSchema)),
    changes: z.optional(z.strictObject({ set: z.array(recordPointerSchema), removed: z.array(pathString()) })),
  })
  .check(z.refine((c) => (c.pointers === undefined) !== (c.changes === undefined), { message: 'a commit carries either pointers or changes' }));
export type CommitRecord = z.infer<typeof commitRecordSchema>;

export const refUpdateSchema = z.strictObject({
  name: z.string().check(z.regex(/^refs\/(heads|tags)\/[^\0\s~^:?*[\\]+$/), z.maxLength(1000)),
  sha: z.nullable(gitSha),
  /**
   * Compare-and-swap: apply the update only if the ref names this commit now
   * (null: the ref does not exist); otherwise leave it and list it in
   * `skipped`. Lets a client undo what it recorded for a push git then
   * refused, without undoing a newer push recorded meanwhile.
   */
  expect: z.optional(z.nullable(gitSha)),
});
export type RefUpdate = z.infer<typeof refUpdateSchema>;

export const commitsRequestSchema = z.strictObject({
  commits: z.array(commitRecordSchema).check(z.maxLength(Commits.maxPerRequest)),
  refs: z._default(z.array(refUpdateSchema).check(z.maxLength(10_000)), []),
});
export type CommitsRequest = z.input<typeof commitsRequestSchema>;

/** `refs`: updates applied; `skipped` (only when not empty): names of updates whose `expect` did not hold. */
export const commitsResponseSchema = z.object({ recorded: z.int(), refs: z.int(), skipped: z.optional(z.array(z.string())) });
export const knownRequestSchema = z.strictObject({ shas: z.array(gitSha).check(z.maxLength(Commits.maxKnownShas)) });
export const knownResponseSchema = z.object({ known: z.array(gitSha) });

// ---- Dataset history (answers of the read routes); see docs/protocol.md ----

/** A tracked path at a commit: the fields of its pointer. */
export const datasetSchema = recordPointerSchema;
export type Dataset = RecordPointer;

/** GET /repos/{repo}/refs */
export const refsResponseSchema = z.object({ refs: z.array(z.object({ name: z.string(), sha: gitSha })) });
export type RefsResponse = z.infer<typeof refsResponseSchema>;

/** GET /repos/{repo}/commits/{ref}: the record without its pointer list; `pointers` counts the datasets at the commit. */
export const commitInfoSchema = z.object({
  sha: gitSha,
  parents: z.array(gitSha),
  author: personSchema,
  committer: personSchema,
  message: z.string(),
  pointers: z.int(),
});
export type CommitInfo = z.infer<typeof commitInfoSchema>;

/** GET /repos/{repo}/datasets?ref= */
export const datasetsResponseSchema = z.object({ ref: z.string(), commit: gitSha, datasets: z.array(datasetSchema) });
export type DatasetsResponse = z.infer<typeof datasetsResponseSchema>;

/** One version of a path: the commit that set it (time: committer time, seconds since the epoch). */
export const datasetVersionSchema = z.object({
  commit: gitSha,
  time: z.int(),
  message: z.string(),
  author: personSchema,
  type: z.enum(['file', 'dir']),
  size: z.int(),
  files: z.optional(z.int()),
  sha256: hex64,
  manifest: hex64,
  /** bytes of chunks the previous version of the path did not have (the whole size for the first) */
  newBytes: z.int(),
});
export type DatasetVersion = z.infer<typeof datasetVersionSchema>;

/** GET /repos/{repo}/history?path= ; `next` is the cursor of the following page, absent on the last. */
export const historyResponseSchema = z.object({ path: z.string(), versions: z.array(datasetVersionSchema), next: z.optional(z.string()) });
export type HistoryResponse = z.infer<typeof historyResponseSchema>;

export const History = { defaultLimit: 1_000, maxLimit: 10_000 } as const;

/** GET /repos/{repo}/diff?from=&to= */
export const diffResponseSchema = z.object({
  from: gitSha,
  to: gitSha,
  added: z.array(datasetSchema),
  removed: z.array(datasetSchema),
  changed: z.array(z.object({ path: z.string(), from: datasetSchema, to: datasetSchema, sizeDelta: z.int(), newBytes: z.int() })),
});
export type DiffResponse = z.infer<typeof diffResponseSchema>;

// ---- Runs, metrics, lineage and models (tracking); see docs/protocol.md ----

export const RunsSync = {
  maxRunsPerRequest: 500,
  maxBodyBytes: 32 * 1024 * 1024,
  maxLogBytes: 1024 * 1024,
} as const;

const uuid = z.string().check(z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/));
const bounded = (max: number) => z.string().check(z.maxLength(max));
export const runStatusSchema = z.enum(['running', 'succeeded', 'failed', 'timeout', 'upstream_failed', 'cancelled']);
const artifactSchema = z.strictObject({
  path: pathString(),
  type: z.enum(['file', 'dir']),
  sha256: hex64,
  manifest: z.nullable(hex64),
  size: z.nullable(count()),
});
export const syncedRunSchema = z.strictObject({
  id: uuid,
  pipelineRun: uuid,
  stage: z.string().check(z.minLength(1), z.maxLength(100)),
  attempt: count(),
  status: runStatusSchema,
  startedAt: z.int(),
  finishedAt: z.nullable(z.int()),
  exitCode: z.nullable(z.int()),
  signal: z.nullable(bounded(32)),
  cmd: bounded(100_000),
  commit: gitShaOrNull(),
  params: z.record(z.string(), z.unknown()),
  error: z.nullable(bounded(100_000)),
  metrics: z.array(z.strictObject({ key: z.string().check(z.minLength(1), z.maxLength(200)), value: z.number(), step: z.nullable(z.int()), time: z.number() })).check(z.maxLength(1_000_000)),
  inputs: z.array(artifactSchema).check(z.maxLength(100_000)),
  outputs: z.array(artifactSchema).check(z.maxLength(100_000)),
  log: z.nullable(bounded(RunsSync.maxLogBytes)),
});
export type SyncedRun = z.infer<typeof syncedRunSchema>;

function gitShaOrNull() {
  return z.nullable(gitSha);
}

export const syncedPipelineRunSchema = z.strictObject({
  id: uuid,
  commit: gitShaOrNull(),
  trigger: bounded(32),
  startedAt: z.int(),
  finishedAt: z.nullable(z.int()),
  status: runStatusSchema,
});
export const syncedModelSchema = z.strictObject({
  name: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/)),
  version: z.int().check(z.gte(1)),
  aliases: z.array(z.string().check(z.minLength(1), z.maxLength(100))).check(z.maxLength(100)),
  path: pathString(),
  sha256: hex64,
  manifest: z.nullable(hex64),
  run: z.nullable(uuid),
  createdAt: z.int(),
});
export type SyncedModel = z.infer<typeof syncedModelSchema>;
/** one point of a metric curve, as clients record and send it */
export type MetricPoint = SyncedRun['metrics'][number];
export const runsSyncRequestSchema = z.strictObject({
  pipelineRuns: z._default(z.array(syncedPipelineRunSchema).check(z.maxLength(RunsSync.maxRunsPerRequest)), []),
  runs: z._default(z.array(syncedRunSchema).check(z.maxLength(RunsSync.maxRunsPerRequest)), []),
  models: z._default(z.array(syncedModelSchema).check(z.maxLength(10_000)), []),
});
export type RunsSyncRequest = z.input<typeof runsSyncRequestSchema>;
export const runsSyncResponseSchema = z.object({ runs: z.int(), models: z.int() });
