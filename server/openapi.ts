import { z } from 'zod';
import { LINK_MAX_SECONDS } from './auth/signed-url.ts';
import { linkRequestSchema, linkResponseSchema } from './http/routes/links.ts';
import { MAX_PACK_BYTES } from '../core/pack.ts';
import {
  API_PREFIX,
  commitInfoSchema,
  Commits,
  commitsRequestSchema,
  commitsResponseSchema,
  datasetsResponseSchema,
  diffResponseSchema,
  History,
  historyResponseSchema,
  knownRequestSchema,
  knownResponseSchema,
  refsResponseSchema,
  dirListingSchema,
  errorBodySchema,
  Limits,
  MediaType,
  missingRequestSchema,
  missingResponseSchema,
  packPutResponseSchema,
  repoInfoSchema,
  RunsSync,
  runsSyncRequestSchema,
  runsSyncResponseSchema,
  runStatusSchema,
  uploadResponseSchema,
} from '../core/protocol.ts';
import { tracking, trackingSchemas } from './openapi-tracking.ts';

/**
 * The OpenAPI 3.1 document of the server, served at /api/v1/openapi.json.
 * Written as data beside the routes; test/server-openapi.test.ts checks that
 * every route the app serves is here and every operation here is served.
 * `x-dvx-scope` is the scope an operation needs (absent: no token needed).
 */
type Scope = 'read' | 'write' | 'admin';

const json = (schema: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } });
const error = (description: string) => ({ description, content: json('Error') });
const errors = (...codes: number[]) => {
  const text: Record<number, string> = {
    400: 'malformed request (names the problem)',
    401: 'no token, or an unknown or revoked one',
    403: 'the token lacks the scope',
    404: 'no such repository (or the token cannot see it), blob, ref or path',
    410: 'the content (by sha256) was removed by an admin (Git LFS object removal); the message says who and when',
    411: 'Content-Length missing',
    413: 'too large',
    415: 'wrong Content-Type',
    416: 'range not satisfiable (Content-Range: bytes */size)',
    422: 'content fails verification; nothing was stored',
    500: 'stored data is damaged or missing (names the pack), or an internal error',
    503: 'storage unavailable (Retry-After)',
  };
  return Object.fromEntries(codes.map((c) => [String(c), error(text[c]!)]));
};
const repo = { name: 'repo', in: 'path', required: true, description: 'repository name: 1-100 of [A-Za-z0-9._-], starting with a letter or digit, not ending in .git', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' } };
const hex = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const ref = { name: 'ref', in: 'path', required: true, description: 'a file or tree manifest id, a file sha256, a branch or tag (percent-encode "/"), HEAD (the default branch: main, else master, else the only branch), or a full or abbreviated (7+ hex digits) commit sha', schema: { type: 'string' } };
const path = { name: 'path', in: 'path', required: true, description: 'with a tree: the file or directory inside it; with a file ref: its name (for Content-Type and Content-Disposition); with a commit: the path in the repository (a tracked file or directory, or a file inside one)', schema: { type: 'string' } };
const commitRef = { name: 'ref', in: 'path', required: true, description: 'a branch (main, refs/heads/main), a tag, HEAD (the default branch: main, else master, else the only branch), or a full or abbreviated (7+ hex digits) commit sha', schema: { type: 'string' } };
const queryRef = (name: string, required: boolean, description: string) => ({ name, in: 'query', required, description, schema: { type: 'string' } });
const authed = (scope: Scope) => ({ security: [{ bearer: [] }, { basic: [] }], 'x-dvx-scope': scope });

const fileGet = (withPath: boolean, head: boolean) => ({
  summary: head ? 'headers of a file or directory' : 'a file\'s bytes (Range, ETag), or a directory listing or tar stream',
  ...authed('read'),
  parameters: [
    repo,
    ref,
    ...(withPath ? [path] : []),
    { name: 'format', in: 'query', required: false, description: 'for a directory: json (default) or tar', schema: { type: 'string', enum: ['json', 'tar'] } },
    { name: 'exp', in: 'query', required: false, description: 'with sig: a signed download link (POST .../links) in place of the Authorization header', schema: { type: 'integer' } },
    { name: 'sig', in: 'query', required: false, description: 'the link\'s HMAC-SHA256 over repository, ref, path and exp', schema: { type: 'string' } },
    { name: 'Range', in: 'header', required: false, schema: { type: 'string' }, description: 'one byte range; several are answered with the whole file' },
    { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
    { name: 'If-Range', in: 'header', required: false, schema: { type: 'string' } },
  ],
  responses: {
    '200': {
      description: 'the file (ETag: its sha256), or a directory',
      headers: { ETag: { schema: { type: 'string' } }, 'Content-Length': { schema: { type: 'integer' } }, 'Accept-Ranges': { schema: { type: 'string' } } },
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, 'application/x-tar': { schema: { type: 'string', format: 'binary' } }, ...json('DirListing') },
    },
    '206': { description: 'the requested range (Content-Range)', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    '304': { description: 'If-None-Match matched' },
    ...errors(400, 401, 404, 410, 416, 500, 503),
  },
});

/** Git LFS routes answer errors as the LFS spec wants: `{message, request_id, documentation_url}`. */
const LFS = 'application/vnd.git-lfs+json';
const lfsJson = (schema: string) => ({ [LFS]: { schema: { $ref: `#/components/schemas/${schema}` } } });
const lfsErrors = (...codes: number[]) => {
  const text: Record<number, string> = {
    400: 'the body does not match its Content-Length',
    401: 'no or bad credentials (LFS-Authenticate: Basic realm="dvx")',
    403: 'the token lacks the scope, or the lock is someone else\'s',
    404: 'no such repository (or the token cannot see it), object or lock',
    410: 'the object was removed by an admin (DELETE); the message says who and when',
    409: 'hash_algo other than sha256; or the path is already locked (body: lock)',
    413: 'an object larger than DVX_LFS_MAX_OBJECT_BYTES, or too many objects in one batch',
    416: 'range not satisfiable',
    422: 'invalid request, oid or size; or uploaded content whose sha256 is not the oid (nothing stored)',
    503: 'storage unavailable (Retry-After)',
    507: 'no storage space left',
  };
  return Object.fromEntries(codes.map((c) => [String(c), { description: text[c]!, content: lfsJson('LfsError') }]));
};
const lfsAuthed = (scope: Scope) => ({ security: [{ basic: [] }, { bearer: [] }], 'x-dvx-scope': scope, tags: ['git-lfs'] });
const oid = { name: 'oid', in: 'path', required: true, description: 'the object\'s sha256', schema: hex };
const lfsLock = { type: 'object', properties: { id: { type: 'string' }, path: { type: 'string' }, locked_at: { type: 'string', format: 'date-time' }, owner: { type: 'object', properties: { name: { type: 'string' } } } }, required: ['id', 'path', 'locked_at', 'owner'] };
const lfsObjectGet = (head: boolean) => ({
  summary: head ? 'headers of an LFS object' : 'basic transfer download: the object\'s bytes streamed from the packs (Range, ETag)',
  ...lfsAuthed('read'),
  parameters: [repo, oid, { name: 'Range', in: 'header', required: false, schema: { type: 'string' } }],
  responses: {
    '200': { description: 'the object', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    '206': { description: 'the requested range', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    ...lfsErrors(401, 403, 404, 410, 416, 422, 503),
  },
});

export function openApiDocument(): Record<string, unknown> {
  const P = API_PREFIX;
  return {
    openapi: '3.1.0',
    info: { title: 'dvx-server', version: '1', description: 'Deduplicated chunk store for dvx: push and pull of packs, plain HTTP access to tracked data. The exchanges are described in docs/protocol.md.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'dvx_... token (`dvx-server token create`)' },
        basic: { type: 'http', scheme: 'basic', description: 'any user name, the token as password' },
      },
      schemas: {
        Error: z.toJSONSchema(errorBodySchema),
        RepoInfo: z.toJSONSchema(repoInfoSchema),
        RepoList: { type: 'object', properties: { repos: { type: 'array', items: { $ref: '#/components/schemas/RepoInfo' } } }, required: ['repos'] },
        PackPutResponse: z.toJSONSchema(packPutResponseSchema),
        UploadResponse: z.toJSONSchema(uploadResponseSchema),
        DirListing: z.toJSONSchema(dirListingSchema),
        MissingRequest: z.toJSONSchema(missingRequestSchema),
        MissingResponse: z.toJSONSchema(missingResponseSchema),
        LinkRequest: z.toJSONSchema(linkRequestSchema),
        LinkResponse: z.toJSONSchema(linkResponseSchema),
        LfsError: { type: 'object', properties: { message: { type: 'string' }, request_id: { type: 'string' }, documentation_url: { type: 'string' } }, required: ['message'] },
        LfsBatchRequest: {
          type: 'object',
          properties: {
            operation: { type: 'string', enum: ['download', 'upload'] },
            transfers: { type: 'array', items: { type: 'string' } },
            ref: { type: 'object', properties: { name: { type: 'string' } } },
            objects: { type: 'array', maxItems: 1000, items: { type: 'object', properties: { oid: hex, size: { type: 'integer', minimum: 0 } }, required: ['oid', 'size'] } },
            hash_algo: { type: 'string', enum: ['sha256'] },
          },
          required: ['operation', 'objects'],
        },
        LfsBatchResponse: {
          type: 'object',
          properties: {
            transfer: { type: 'string', enum: ['basic'] },
            hash_algo: { type: 'string' },
            objects: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  oid: { type: 'string' },
                  size: { type: 'integer' },
                  authenticated: { type: 'boolean' },
                  actions: { type: 'object', description: 'download, or upload and verify (absent: already stored)', additionalProperties: { type: 'object', properties: { href: { type: 'string' }, header: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['href'] } },
                  error: { type: 'object', properties: { code: { type: 'integer', enum: [404, 422] }, message: { type: 'string' } }, required: ['code', 'message'] },
                },
                required: ['oid', 'size'],
              },
            },
          },
          required: ['transfer', 'objects'],
        },
        LfsLock: lfsLock,
        KnownRequest: z.toJSONSchema(knownRequestSchema),
        KnownResponse: z.toJSONSchema(knownResponseSchema),
        CommitsRequest: z.toJSONSchema(commitsRequestSchema, { io: 'input' }),
        CommitsResponse: z.toJSONSchema(commitsResponseSchema),
        CommitInfo: z.toJSONSchema(commitInfoSchema),
        Refs: z.toJSONSchema(refsResponseSchema),
        Datasets: z.toJSONSchema(datasetsResponseSchema),
        History: z.toJSONSchema(historyResponseSchema),
        Diff: z.toJSONSchema(diffResponseSchema),
        ...trackingSchemas({ request: z.toJSONSchema(runsSyncRequestSchema, { io: 'input' }), response: z.toJSONSchema(runsSyncResponseSchema), status: z.toJSONSchema(runStatusSchema) }),
        Health: { type: 'object', properties: { status: { type: 'string', enum: ['ok', 'unavailable'] } }, required: ['status'] },
      },
    },
    paths: {
      '/': {
        get: { summary: 'the web UI (its scripts and styles under /assets/, served by this server; no token needed to load it)', responses: { '200': { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(404) } },
      },
      '/healthz': {
        get: { summary: 'liveness and storage health', responses: { '200': { description: 'ok', content: json('Health') }, '503': { description: 'storage does not answer', content: json('Health') } } },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics (bearer DVX_METRICS_TOKEN when set)', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(401) } },
      },
      [`${P}/openapi.json`]: {
        get: { summary: 'this document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      [`${P}/repos`]: {
        get: { summary: 'the repositories the token can read', security: [{ bearer: [] }, { basic: [] }], responses: { '200': { description: 'list', content: json('RepoList') }, ...errors(401) } },
      },
      [`${P}/repos/{repo}`]: {
        get: { summary: 'repository information', ...authed('read'), parameters: [repo], responses: { '200': { description: 'info', content: json('RepoInfo') }, ...errors(400, 401, 404) } },
        put: { summary: 'create a repository', ...authed('write'), parameters: [repo], responses: { '200': { description: 'existed', content: json('RepoInfo') }, '201': { description: 'created', content: json('RepoInfo') }, ...errors(400, 401, 403, 404) } },
        delete: { summary: 'delete a repository (its bytes go at the next gc)', ...authed('admin'), parameters: [repo], responses: { '204': { description: 'deleted' }, ...errors(400, 401, 403, 404) } },
      },
      [`${P}/repos/{repo}/blobs/missing`]: {
        post: {
          summary: `negotiation: which of up to ${Limits.maxIdsPerRequest} blob ids the repository lacks`,
          ...authed('write'),
          parameters: [repo],
          requestBody: { required: true, content: { [MediaType.ids]: { schema: { type: 'string', format: 'binary', description: 'raw 32-byte ids, concatenated' } }, ...json('MissingRequest') } },
          responses: {
            '200': { description: 'the missing ids, in request order, in the request\'s form', content: { [MediaType.ids]: { schema: { type: 'string', format: 'binary' } }, ...json('MissingResponse') } },
            ...errors(400, 401, 403, 404, 413, 415),
          },
        },
      },
      [`${P}/repos/{repo}/blobs/fetch`]: {
        post: {
          summary: `a pack of the requested blobs, in request order (at most ${Limits.maxIdsPerRequest} ids and ${Limits.maxFetchBytes} bytes)`,
          ...authed('read'),
          parameters: [repo],
          requestBody: { required: true, content: { [MediaType.ids]: { schema: { type: 'string', format: 'binary' } } } },
          responses: { '200': { description: 'a pack (core/pack.ts), Content-Length set', content: { [MediaType.pack]: { schema: { type: 'string', format: 'binary' } } } }, ...errors(400, 401, 403, 404, 413, 415, 500, 503) },
        },
      },
      [`${P}/repos/{repo}/packs/{pack}`]: {
        put: {
          summary: `upload a pack (at most ${MAX_PACK_BYTES} bytes), verified whole before anything is indexed`,
          ...authed('write'),
          parameters: [repo, { name: 'pack', in: 'path', required: true, description: 'BLAKE3-256 of the pack index', schema: hex }],
          requestBody: { required: true, content: { [MediaType.pack]: { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            '200': { description: 'the server already had this pack', content: json('PackPutResponse') },
            '201': { description: 'stored', content: json('PackPutResponse') },
            ...errors(400, 401, 403, 404, 411, 413, 415, 422, 503),
          },
        },
      },
      [`${P}/repos/{repo}/files/{ref}`]: { get: fileGet(false, false), head: fileGet(false, true) },
      [`${P}/repos/{repo}/files/{ref}/{path}`]: { get: fileGet(true, false), head: fileGet(true, true) },
      [`${P}/repos/{repo}/links`]: {
        post: {
          summary: `a signed download link of one file or directory at a ref, valid for minutes (at most ${LINK_MAX_SECONDS} s): GET it without a token; ?exp=&sig= stand for the header`,
          ...authed('read'),
          parameters: [repo],
          requestBody: { required: true, content: json('LinkRequest') },
          responses: { '201': { description: 'the link (a path and query relative to the server) and when it expires (ms since the epoch)', content: json('LinkResponse') }, ...errors(400, 401, 404, 415) },
        },
      },
      [`${P}/repos/{repo}/commits/known`]: {
        post: {
          summary: `which of up to ${Commits.maxKnownShas} commits the server has records of`,
          ...authed('write'),
          parameters: [repo],
          requestBody: { required: true, content: json('KnownRequest') },
          responses: { '200': { description: 'the recorded ones', content: json('KnownResponse') }, ...errors(400, 401, 403, 404, 413, 415) },
        },
      },
      [`${P}/repos/{repo}/commits`]: {
        post: {
          summary: `record up to ${Commits.maxPerRequest} commits (parents first) and ref updates, all or nothing`,
          ...authed('write'),
          parameters: [repo],
          requestBody: { required: true, content: json('CommitsRequest') },
          responses: {
            '200': { description: 'recorded (re-recording the same commit is a no-op)', content: json('CommitsResponse') },
            '409': error('a commit is already recorded with different content'),
            ...errors(400, 401, 403, 404, 413, 415, 422, 500, 503),
          },
        },
      },
      [`${P}/repos/{repo}/commits/{ref}`]: {
        get: {
          summary: 'one commit record, without its pointer list (pointers: how many datasets it names)',
          ...authed('read'),
          parameters: [repo, commitRef],
          responses: { '200': { description: 'the commit', content: json('CommitInfo') }, '409': error('an abbreviated sha matches several commits'), ...errors(400, 401, 404) },
        },
      },
      [`${P}/repos/{repo}/refs`]: {
        get: { summary: 'branches and tags with the commits they name', ...authed('read'), parameters: [repo], responses: { '200': { description: 'refs', content: json('Refs') }, ...errors(400, 401, 404) } },
      },
      [`${P}/repos/{repo}/datasets`]: {
        get: {
          summary: 'the tracked paths at a ref',
          ...authed('read'),
          parameters: [repo, queryRef('ref', false, 'branch, tag or commit (default: main, else master, else the ref updated last)')],
          responses: { '200': { description: 'datasets, sorted by path', content: json('Datasets') }, '409': error('an abbreviated sha matches several commits'), ...errors(400, 401, 404) },
        },
      },
      [`${P}/repos/{repo}/history`]: {
        get: {
          summary: 'every version of one path, newest first, with what each cost to store (newBytes)',
          ...authed('read'),
          parameters: [
            repo,
            { name: 'path', in: 'query', required: true, description: 'the data path (a dir pointer\'s path is the directory)', schema: { type: 'string' } },
            queryRef('ref', false, 'only commits reachable from this ref (default: from any ref)'),
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: History.maxLimit, default: History.defaultLimit } },
            { name: 'cursor', in: 'query', required: false, description: 'the "next" of the previous page', schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'one page of versions', content: json('History') }, '409': error('an abbreviated sha matches several commits'), ...errors(400, 401, 404) },
        },
      },
      [`${P}/repos/{repo}/diff`]: {
        get: {
          summary: 'datasets added, removed and changed between two refs',
          ...authed('read'),
          parameters: [repo, queryRef('from', true, 'branch, tag or commit'), queryRef('to', true, 'branch, tag or commit')],
          responses: { '200': { description: 'the difference', content: json('Diff') }, '409': error('an abbreviated sha matches several commits'), ...errors(400, 401, 404, 500, 503) },
        },
      },
      [`${P}/repos/{repo}/uploads`]: {
        post: {
          summary: 'plain upload: files chunked and deduplicated on the server',
          ...authed('write'),
          parameters: [repo],
          requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', additionalProperties: { type: 'string', format: 'binary' } } } } },
          responses: { '201': { description: 'one entry per file part (newBytes: chunk bytes the server did not have)', content: json('UploadResponse') }, ...errors(400, 401, 403, 404, 413, 415, 503) },
        },
      },
      '/{repo}.git/info/lfs/objects/batch': {
        post: {
          summary: 'Git LFS Batch API (basic transfer adapter); upload needs write scope',
          ...lfsAuthed('read'),
          parameters: [repo],
          requestBody: { required: true, content: lfsJson('LfsBatchRequest') },
          responses: { '200': { description: 'per-object actions or errors', content: lfsJson('LfsBatchResponse') }, ...lfsErrors(401, 403, 404, 409, 413, 422, 503) },
        },
      },
      '/{repo}.git/info/lfs/objects/{oid}': {
        put: {
          summary: 'basic transfer upload: the body is streamed into the chunk store and acknowledged only if its sha256 is the oid',
          ...lfsAuthed('write'),
          parameters: [repo, oid],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: { '200': { description: 'stored' }, ...lfsErrors(400, 401, 403, 404, 413, 422, 503, 507) },
        },
        get: lfsObjectGet(false),
        head: lfsObjectGet(true),
        delete: {
          summary: 'remove the object from the repository: downloads then answer 410 (who, when) until it is uploaded again; its chunks go at a gc once unreferenced',
          ...lfsAuthed('admin'),
          parameters: [repo, oid],
          responses: { '204': { description: 'removed (or already removed)' }, ...lfsErrors(401, 403, 404, 422, 503) },
        },
      },
      '/{repo}.git/info/lfs/objects/verify': {
        post: {
          summary: 'verify action: the object is stored with this size',
          ...lfsAuthed('write'),
          parameters: [repo],
          requestBody: { required: true, content: { [LFS]: { schema: { type: 'object', properties: { oid: hex, size: { type: 'integer' } }, required: ['oid', 'size'] } } } },
          responses: { '200': { description: 'stored', content: { [LFS]: { schema: { type: 'object' } } } }, ...lfsErrors(401, 403, 404, 422) },
        },
      },
      '/{repo}.git/info/lfs/locks': {
        post: {
          summary: 'lock a path (owner: the token\'s description)',
          ...lfsAuthed('write'),
          parameters: [repo],
          requestBody: { required: true, content: { [LFS]: { schema: { type: 'object', properties: { path: { type: 'string' }, ref: { type: 'object' } }, required: ['path'] } } } },
          responses: { '201': { description: 'locked', content: { [LFS]: { schema: { type: 'object', properties: { lock: lfsLock } } } } }, ...lfsErrors(401, 403, 404, 409, 422) },
        },
        get: {
          summary: 'list locks',
          ...lfsAuthed('read'),
          parameters: [
            repo,
            ...['path', 'id', 'cursor', 'limit', 'refspec'].map((name) => ({ name, in: 'query', required: false, schema: { type: name === 'limit' ? 'integer' : 'string' } })),
          ],
          responses: { '200': { description: 'locks, and next_cursor when there are more', content: { [LFS]: { schema: { type: 'object', properties: { locks: { type: 'array', items: lfsLock }, next_cursor: { type: 'string' } } } } } }, ...lfsErrors(401, 403, 404, 422) },
        },
      },
      '/{repo}.git/info/lfs/locks/verify': {
        post: {
          summary: 'locks split into ours (this token\'s owner) and theirs, checked by git-lfs before a push',
          ...lfsAuthed('write'),
          parameters: [repo],
          requestBody: { required: false, content: { [LFS]: { schema: { type: 'object', properties: { cursor: { type: 'string' }, limit: { type: 'integer' } } } } } },
          responses: { '200': { description: 'ours and theirs', content: { [LFS]: { schema: { type: 'object', properties: { ours: { type: 'array', items: lfsLock }, theirs: { type: 'array', items: lfsLock }, next_cursor: { type: 'string' } } } } } }, ...lfsErrors(401, 403, 404, 422) },
        },
      },
      '/{repo}.git/info/lfs/locks/{id}/unlock': {
        post: {
          summary: 'unlock (someone else\'s lock: force and admin scope)',
          ...lfsAuthed('write'),
          parameters: [repo, { name: 'id', in: 'path', required: true, description: 'lock id', schema: { type: 'string' } }],
          requestBody: { required: false, content: { [LFS]: { schema: { type: 'object', properties: { force: { type: 'boolean' } } } } } },
          responses: { '200': { description: 'unlocked', content: { [LFS]: { schema: { type: 'object', properties: { lock: lfsLock } } } } }, ...lfsErrors(401, 403, 404, 422) },
        },
      },
      ...tracking({ P, repo, authed, json, errors, maxRuns: RunsSync.maxRunsPerRequest, maxBodyBytes: RunsSync.maxBodyBytes }),
    },
  };
}
