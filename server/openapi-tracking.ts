/**
 * The tracking part of the OpenAPI document (runs, lineage, models), kept
 * beside openapi.ts so that the routes of each concept are described in one
 * place. Shapes follow server/index/run-index.ts and server/index/lineage.ts.
 */
type Json = Record<string, unknown>;

const obj = (properties: Json, required: string[] = Object.keys(properties)): Json => ({ type: 'object', properties, required });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string) => ({ type: [type, 'null'] });
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' };

export function trackingSchemas(zod: { request: Json; response: Json; status: Json }): Record<string, Json> {
  const artifact = obj({ path: { type: 'string' }, type: { type: 'string', enum: ['file', 'dir'] }, sha256: hex64, manifest: { anyOf: [hex64, { type: 'null' }] }, size: nullable('integer') });
  const summary = {
    id: uuid,
    pipelineRun: uuid,
    stage: { type: 'string' },
    attempt: { type: 'integer' },
    status: ref('RunStatus'),
    startedAt: { type: 'integer', description: 'ms since the epoch' },
    finishedAt: nullable('integer'),
    durationMs: nullable('integer'),
    exitCode: nullable('integer'),
    commit: nullable('string'),
    params: { type: 'object', additionalProperties: true },
  };
  const introducing = obj({ commit: { type: 'string' }, time: { type: 'integer', description: 'seconds since the epoch' }, message: { type: 'string' } });
  return {
    RunStatus: zod.status,
    RunsSyncRequest: zod.request,
    RunsSyncResponse: { ...zod.response, description: 'runs and model versions that were new or changed (0 when everything was already recorded)' },
    Artifact: artifact,
    RunSummary: obj({ ...summary, metrics: { type: 'object', additionalProperties: { type: 'number' }, description: 'the last value of each metric' } }),
    RunList: obj({ total: { type: 'integer', description: 'runs that pass the filters' }, offset: { type: 'integer' }, limit: { type: 'integer' }, runs: { type: 'array', items: ref('RunSummary') } }),
    RunDetail: obj({
      ...summary,
      signal: nullable('string'),
      cmd: { type: 'string' },
      error: nullable('string'),
      metrics: { type: 'array', items: obj({ key: { type: 'string' }, value: { type: 'number' }, step: nullable('integer'), time: { type: 'number' } }), description: 'every point, by key, in recorded order' },
      inputs: { type: 'array', items: ref('Artifact') },
      outputs: { type: 'array', items: ref('Artifact') },
      log: { ...nullable('string'), description: 'the tail of the log (at most 1 MiB)' },
      attempts: { type: 'array', items: obj({ id: uuid, attempt: { type: 'integer' }, status: ref('RunStatus'), startedAt: { type: 'integer' }, finishedAt: nullable('integer'), exitCode: nullable('integer') }), description: 'the other attempts of this stage in the same pipeline run' },
    }),
    MetricCurve: obj({ run: uuid, key: { type: 'string' }, total: { type: 'integer', description: 'points recorded' }, points: { type: 'array', items: obj({ value: { type: 'number' }, step: nullable('integer'), time: { type: 'number' } }) } }),
    LineageGraph: obj({
      root: { type: 'string', description: 'the id of the node of the data version asked for' },
      direction: { type: 'string', enum: ['up', 'down'] },
      nodes: {
        type: 'array',
        items: {
          oneOf: [
            obj(
              {
                id: { type: 'string', description: 'data:<sha256>:<path>' },
                kind: { const: 'data' },
                path: { type: 'string' },
                type: { type: ['string', 'null'], enum: ['file', 'dir', null] },
                sha256: hex64,
                manifest: { anyOf: [hex64, { type: 'null' }] },
                size: nullable('integer'),
                producedBy: { ...nullable('string'), description: 'the run that produced it; null: raw data' },
                introducedBy: { anyOf: [introducing, { type: 'null' }], description: 'raw data only: the commit that introduced this version (null: no record)' },
              },
              ['id', 'kind', 'path', 'type', 'sha256', 'manifest', 'size', 'producedBy'],
            ),
            obj({ ...summary, id: { type: 'string', description: 'run:<run id>' }, kind: { const: 'run' }, run: uuid, metrics: { type: 'object', additionalProperties: { type: 'number' } } }),
          ],
        },
      },
      edges: { type: 'array', items: obj({ from: { type: 'string' }, to: { type: 'string' } }), description: 'from inputs to runs and from runs to outputs' },
      truncated: { type: 'boolean', description: 'the graph reached its node limit' },
    }),
    ModelVersion: obj({
      name: { type: 'string' },
      version: { type: 'integer' },
      aliases: { type: 'array', items: { type: 'string' } },
      path: { type: 'string' },
      sha256: hex64,
      manifest: { anyOf: [hex64, { type: 'null' }] },
      run: { anyOf: [uuid, { type: 'null' }] },
      createdAt: { type: 'integer' },
      producedBy: { anyOf: [obj({ id: uuid, stage: { type: 'string' }, status: ref('RunStatus'), commit: nullable('string'), pipelineRun: uuid, startedAt: { type: 'integer' } }), { type: 'null' }] },
    }),
    ModelList: obj({ models: { type: 'array', items: ref('ModelVersion') } }),
  };
}

interface Helpers {
  P: string;
  repo: Json;
  authed: (scope: 'read' | 'write' | 'admin') => Json;
  json: (schema: string) => Json;
  errors: (...codes: number[]) => Json;
  maxRuns: number;
  maxBodyBytes: number;
}

export function tracking(h: Helpers): Record<string, Json> {
  const { P, repo, authed, json, errors } = h;
  const q = (name: string, description: string, schema: Json = { type: 'string' }, required = false) => ({ name, in: 'query', required, description, schema });
  const runId = { name: 'id', in: 'path', required: true, description: 'run id (a UUID)', schema: uuid };
  return {
    [`${P}/repos/{repo}/runs`]: {
      post: {
        summary: `record runs, pipeline runs and model versions (at most ${h.maxRuns} runs and ${h.maxBodyBytes >> 20} MiB), all or nothing; a run is replaced only by a more final record`,
        ...authed('write'),
        parameters: [repo],
        requestBody: { required: true, content: json('RunsSyncRequest') },
        responses: { '200': { description: 'recorded', content: json('RunsSyncResponse') }, ...errors(400, 401, 403, 404, 409, 413, 415, 422) },
      },
      get: {
        summary: 'one page of runs, filtered and sorted on the server (newest first by default)',
        ...authed('read'),
        parameters: [
          repo,
          q('status', 'only runs with this status', ref('RunStatus')),
          q('stage', 'only this stage'),
          q('commit', 'commit sha prefix (lowercase hex)', { type: 'string', pattern: '^[0-9a-f]{1,64}$' }),
          q('pipelineRun', 'only this pipeline run', uuid),
          { ...q('param', 'repeatable: <key>:<json value>, equality (param=train.lr:0.1, param=model:"rf")'), style: 'form', explode: true, schema: { type: 'array', items: { type: 'string' } } },
          { ...q('metric', 'repeatable: <key><op><number> on the last value, op one of >=, <=, >, <, = (metric=accuracy>=0.9)'), style: 'form', explode: true, schema: { type: 'array', items: { type: 'string' } } },
          q('sort', 'startedAt (default), finishedAt, duration, stage, status, param.<key> or metric.<key>; runs without the value come last'),
          q('order', 'desc (default) or asc', { type: 'string', enum: ['asc', 'desc'] }),
          q('limit', '1-500, default 50', { type: 'integer', minimum: 1, maximum: 500 }),
          q('offset', 'default 0', { type: 'integer', minimum: 0 }),
        ],
        responses: { '200': { description: 'a page', content: json('RunList') }, ...errors(400, 401, 403, 404) },
      },
    },
    [`${P}/repos/{repo}/runs/{id}`]: {
      get: {
        summary: 'one run with every metric point, its inputs, outputs, log tail and its other attempts',
        ...authed('read'),
        parameters: [repo, runId],
        responses: { '200': { description: 'the run', content: json('RunDetail') }, ...errors(400, 401, 403, 404) },
      },
    },
    [`${P}/repos/{repo}/runs/{id}/metrics/{key}`]: {
      get: {
        summary: "one metric's curve, downsampled to at most `points` points (each bucket keeps its first, min, max and last point)",
        ...authed('read'),
        parameters: [repo, runId, { name: 'key', in: 'path', required: true, description: 'metric key', schema: { type: 'string' } }, q('points', '4-100000, default 1000', { type: 'integer', minimum: 4, maximum: 100000 })],
        responses: { '200': { description: 'the curve', content: json('MetricCurve') }, ...errors(400, 401, 403, 404) },
      },
    },
    [`${P}/repos/{repo}/lineage`]: {
      get: {
        summary: 'the lineage graph of one data version: what produced it (up) or what was derived from it (down)',
        ...authed('read'),
        parameters: [
          repo,
          q('path', 'the tracked data path', { type: 'string' }, true),
          q('sha256', 'the data version (give this or ref)', hex64),
          q('ref', 'a branch, tag or commit at which to take the version of path (needs commit records)'),
          q('direction', 'up (default) or down', { type: 'string', enum: ['up', 'down'] }),
        ],
        responses: { '200': { description: 'the graph', content: json('LineageGraph') }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    [`${P}/repos/{repo}/models`]: {
      get: {
        summary: 'registered model versions, newest version first per name, with aliases and the run that produced them',
        ...authed('read'),
        parameters: [repo, q('name', 'only this model')],
        responses: { '200': { description: 'the models', content: json('ModelList') }, ...errors(400, 401, 403, 404) },
      },
    },
  };
}
