import { z } from 'zod';
import { MAX_PACK_BYTES } from '../core/pack.ts';
import {
  API_PREFIX,
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
const ref = { name: 'ref', in: 'path', required: true, description: 'a file or tree manifest id, or a file sha256 (branches, tags and commits arrive with commit records)', schema: hex };
const path = { name: 'path', in: 'path', required: true, description: 'with a tree: the file or directory inside it; with a file ref: its name (for Content-Type and Content-Disposition)', schema: { type: 'string' } };
const authed = (scope: Scope) => ({ security: [{ bearer: [] }, { basic: [] }], 'x-dvx-scope': scope });

const fileGet = (withPath: boolean, head: boolean) => ({
  summary: head ? 'headers of a file or directory' : 'a file\'s bytes (Range, ETag), or a directory listing or tar stream',
  ...authed('read'),
  parameters: [
    repo,
    ref,
    ...(withPath ? [path] : []),
    { name: 'format', in: 'query', required: false, description: 'for a directory: json (default) or tar', schema: { type: 'string', enum: ['json', 'tar'] } },
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
    ...errors(400, 401, 404, 416, 500, 503),
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
        ...trackingSchemas({ request: z.toJSONSchema(runsSyncRequestSchema, { io: 'input' }), response: z.toJSONSchema(runsSyncResponseSchema), status: z.toJSONSchema(runStatusSchema) }),
        Health: { type: 'object', properties: { status: { type: 'string', enum: ['ok', 'unavailable'] } }, required: ['status'] },
      },
    },
    paths: {
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
      [`${P}/repos/{repo}/uploads`]: {
        post: {
          summary: 'plain upload: files chunked and deduplicated on the server',
          ...authed('write'),
          parameters: [repo],
          requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', additionalProperties: { type: 'string', format: 'binary' } } } } },
          responses: { '201': { description: 'one entry per file part (newBytes: chunk bytes the server did not have)', content: json('UploadResponse') }, ...errors(400, 401, 403, 404, 413, 415, 503) },
        },
      },
      ...tracking({ P, repo, authed, json, errors, maxRuns: RunsSync.maxRunsPerRequest, maxBodyBytes: RunsSync.maxBodyBytes }),
    },
  };
}
