import { signOut, token } from './session.ts';

/** The dvx-server API (docs/protocol.md) as the UI uses it: JSON over fetch, the token as a bearer header. */
const PREFIX = '/api/v1';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Set by main.ts: what to do when the server says the token is no good. */
export let onUnauthorized: () => void = () => {};
export function setOnUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

export function q(params: Record<string, string | number | undefined | null | (string | number)[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) u.append(k, String(x));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
/** A repository path in a URL: each segment encoded, the slashes kept. */
export const encPath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export async function call<T>(method: string, path: string, body?: unknown, tokenOverride?: string): Promise<T> {
  const t = tokenOverride ?? token();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(PREFIX + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  if (!res.ok) {
    let code = 'http_error';
    let message = `${res.status} ${res.statusText}`;
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string } };
      if (j.error?.code) code = j.error.code;
      if (j.error?.message) message = j.error.message;
    } catch {
      // not JSON
    }
    if (res.status === 401 && tokenOverride === undefined) {
      signOut();
      onUnauthorized();
    }
    throw new ApiError(res.status, code, message);
  }
  return (await res.json()) as T;
}

export const get = <T>(path: string) => call<T>('GET', path);

// ---- shapes (docs/protocol.md) ----
export interface RepoInfo { name: string; createdAt: string; blobs: number; bytes: number }
export interface Ref { name: string; sha: string }
export interface CommitInfo { sha: string; parents: string[]; author: { name: string; email: string; time: number; tz: string }; committer?: { time: number }; message: string; pointers: number }
export interface Dataset { path: string; type: 'file' | 'dir'; size: number; files?: number; sha256: string; manifest: string }
export interface DatasetsAnswer { ref: string; commit: string; datasets: Dataset[] }
export interface Version { commit: string; time: number; message: string; author: string | { name: string; email?: string }; type?: 'file' | 'dir'; files?: number; size: number; sha256: string; manifest: string; newBytes: number }
export interface HistoryAnswer { path: string; versions: Version[]; next?: string | null }
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'timeout' | 'upstream_failed' | 'cancelled';
export interface RunRow {
  id: string; pipelineRun: string; stage: string; attempt: number; status: RunStatus; startedAt: number; finishedAt: number | null;
  durationMs: number | null; exitCode: number | null; commit: string | null; params: Record<string, unknown>; metrics: Record<string, number>;
}
export interface RunsPage { total: number; offset: number; limit: number; runs: RunRow[] }
export interface Artifact { path: string; type: 'file' | 'dir'; sha256: string; manifest: string | null; size: number | null }
export interface MetricPoint { key: string; value: number; step: number | null; time: number }
export interface RunDetail extends Omit<RunRow, 'metrics'> {
  cmd?: string; signal?: string | null; error?: string | null; log: string | null;
  metrics: MetricPoint[] | Record<string, number>; inputs: Artifact[]; outputs: Artifact[]; attempts?: RunRow[];
}
export interface CurveAnswer { key: string; points: { step: number | null; value: number; time: number }[] }
export interface LineageNode { id: string; kind: 'data' | 'run'; [k: string]: unknown }
export interface LineageAnswer { root: string; nodes: LineageNode[]; edges: { from: string; to: string }[] }
export interface Model {
  name: string; version: number; aliases: string[]; path: string; sha256: string; manifest: string | null; run: string | null; createdAt: number;
  producedBy?: { id: string; stage: string; status: string; commit: string | null } | null;
}
export interface LinkAnswer { url: string; expiresAt: number }

/** A signed, short-lived URL of a file (or a directory's tar), for the browser's own download. */
export function downloadLink(repo: string, ref: string, path: string): Promise<LinkAnswer> {
  return call<LinkAnswer>('POST', `/repos/${enc(repo)}/links`, { ref, path });
}
