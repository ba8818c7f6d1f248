import { DvxError } from '../../core/errors.ts';
import { API_PREFIX, Commits, runsSyncResponseSchema, type RunsSyncRequest, commitsResponseSchema, decodeIdList, encodeIdList, knownResponseSchema, Limits, refsResponseSchema, MediaType, packPutResponseSchema, type CommitsRequest, type PackPutResponse, type RepoInfo } from '../../core/protocol.ts';
import { HttpClient, type ClientOptions } from './http-client.ts';
import type { RemoteUrl } from './remote-url.ts';

/**
 * The dvx API v1 of one repository on one server (docs/protocol.md), over
 * HttpClient. Batching to the protocol's limits happens here.
 */
export class DvxRemote {
  readonly http: HttpClient;
  private readonly repoPath: string;

  constructor(readonly remote: RemoteUrl, opts: ClientOptions = {}) {
    this.http = new HttpClient(remote.base, opts);
    this.repoPath = `${API_PREFIX}/repos/${encodeURIComponent(remote.repo)}`;
  }

  close(): void {
    this.http.close();
  }

  /** The repository's description, or undefined when it does not exist (yet). Throws on bad credentials. */
  async repoInfo(): Promise<RepoInfo | undefined> {
    const { status, data } = await this.http.json<RepoInfo>('GET', this.repoPath, undefined, [200, 404]);
    return status === 200 ? data : undefined;
  }

  /** The ids among `ids` that the repository lacks, in order. */
  async missing(ids: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += Limits.maxIdsPerRequest) {
      const batch = ids.slice(i, i + Limits.maxIdsPerRequest);
      const res = await this.http.request({ method: 'POST', path: `${this.repoPath}/blobs/missing`, body: encodeIdList(batch), contentType: MediaType.ids, headers: { accept: MediaType.ids } });
      try {
        out.push(...decodeIdList(res.body, batch.length));
      } catch (err) {
        throw new DvxError('bad_response', `the server's answer to a negotiation is malformed: ${(err as Error).message}`);
      }
    }
    return out;
  }

  async putPack(packId: string, length: number, body: () => AsyncIterable<Uint8Array>, onSent?: (n: number) => void): Promise<PackPutResponse> {
    const res = await this.http.request({
      method: 'PUT',
      path: `${this.repoPath}/packs/${packId}`,
      body,
      contentLength: length,
      contentType: MediaType.pack,
      headers: { accept: 'application/json' },
      onSent,
    });
    const parsed = packPutResponseSchema.safeParse(JSON.parse(res.body.toString('utf8')));
    if (!parsed.success) throw new DvxError('bad_response', `the server's answer to a pack upload is malformed: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  /** Downloads a pack holding exactly `ids` (in order) to `toFile`. */
  async fetchPack(ids: readonly string[], toFile: string, onReceived?: (n: number) => void): Promise<void> {
    await this.http.request({ method: 'POST', path: `${this.repoPath}/blobs/fetch`, body: encodeIdList(ids), contentType: MediaType.ids, headers: { accept: MediaType.pack }, toFile, onReceived });
  }

  /** The commits among `shas` that the server has records of. */
  async knownCommits(shas: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < shas.length; i += Commits.maxKnownShas) {
      const { data } = await this.http.json<unknown>('POST', `${this.repoPath}/commits/known`, { shas: shas.slice(i, i + Commits.maxKnownShas) });
      const parsed = knownResponseSchema.safeParse(data);
      if (!parsed.success) throw new DvxError('bad_response', 'the server sent a malformed commits/known answer');
      for (const s of parsed.data.known) known.add(s);
    }
    return known;
  }

  /** The branches and tags the server has recorded (none while the repository does not exist), by name. */
  async refs(): Promise<Map<string, string>> {
    const { status, data } = await this.http.json<unknown>('GET', `${this.repoPath}/refs`, undefined, [200, 404]);
    if (status === 404) return new Map();
    const parsed = refsResponseSchema.safeParse(data);
    if (!parsed.success) throw new DvxError('bad_response', 'the server sent a malformed list of refs');
    return new Map(parsed.data.refs.map((r) => [r.name, r.sha]));
  }

  async recordCommits(body: CommitsRequest): Promise<{ recorded: number; refs: number; skipped?: string[] }> {
    const { data } = await this.http.json<unknown>('POST', `${this.repoPath}/commits`, body);
    const parsed = commitsResponseSchema.safeParse(data);
    if (!parsed.success) throw new DvxError('bad_response', 'the server sent a malformed answer to commit records');
    return parsed.data;
  }

  async postRuns(body: RunsSyncRequest): Promise<{ runs: number; models: number }> {
    const { data } = await this.http.json<unknown>('POST', `${this.repoPath}/runs`, body);
    const parsed = runsSyncResponseSchema.safeParse(data);
    if (!parsed.success) throw new DvxError('bad_response', 'the server sent a malformed answer to a runs upload');
    return parsed.data;
  }
}
