import { createHash, randomBytes, randomUUID } from 'node:crypto';

/**
 * Synthetic volume for the web UI benchmark, sent through the public API like
 * a client would: runs with params and metric curves (POST /runs), and many
 * versions of one dataset (POST /uploads for the bytes, POST /commits for a
 * chain of commit records that each change it).
 */
async function api(base: string, token: string, method: string, path: string, body: unknown, contentType = 'application/json'): Promise<any> {
  const res = await fetch(`${base}/api/v1/repos${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: contentType === 'application/json' ? JSON.stringify(body) : (body as Buffer),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 400)}`);
  return text ? JSON.parse(text) : undefined;
}

const STAGES = ['validate', 'train', 'evaluate'];
const hex = (n: number) => randomBytes(n).toString('hex');

export async function seedRuns(opts: { url: string; token: string; repo: string; count: number; curvePoints?: number }): Promise<void> {
  const points = opts.curvePoints ?? 20;
  const t0 = Date.now() - opts.count * 60_000;
  for (let done = 0; done < opts.count; ) {
    const n = Math.min(500, opts.count - done);
    const runs = [];
    const pipelineRuns = [];
    let pipelineRun = '';
    let commit = '';
    for (let i = 0; i < n; i++) {
      const k = done + i;
      // One pipeline run (of the three stages) per commit, like the runner makes.
      if (k % STAGES.length === 0 || i === 0) {
        pipelineRun = randomUUID();
        commit = hex(20);
        pipelineRuns.push({ id: pipelineRun, commit, trigger: 'bench', startedAt: t0 + k * 60_000, finishedAt: t0 + k * 60_000 + 3 * 60_000, status: 'succeeded' });
      }
      const stage = STAGES[k % STAGES.length]!;
      const startedAt = t0 + k * 60_000;
      const status = k % 17 === 0 ? 'failed' : 'succeeded';
      const lr = [0.1, 0.3, 0.8, 1.2][k % 4]!;
      const metrics =
        stage === 'train'
          ? Array.from({ length: points }, (_, s) => [
              { key: 'loss', value: 1 / (1 + s * lr) + (k % 7) / 100, step: s, time: startedAt + s * 100 },
              { key: 'accuracy', value: 0.5 + 0.4 * (1 - 1 / (1 + s * lr)), step: s, time: startedAt + s * 100 },
            ]).flat()
          : [{ key: stage === 'validate' ? 'rows' : 'auc', value: stage === 'validate' ? 20_000 + (k % 100) : 0.7 + (k % 29) / 100, step: null, time: startedAt + 500 }];
      runs.push({
        id: randomUUID(), pipelineRun, stage, attempt: 0, status, startedAt, finishedAt: startedAt + 1000 + (k % 50) * 100, exitCode: status === 'failed' ? 1 : 0, signal: null,
        cmd: `python3 ${stage}.py`, commit, params: stage === 'train' ? { 'train.lr': lr, 'train.epochs': 10 + (k % 5) * 10 } : {}, error: null, metrics,
        inputs: [{ path: 'data/valid.csv', type: 'file', sha256: hex(32), manifest: null, size: 1000 + k }], outputs: [], log: `run ${k}\n`,
      });
    }
    await api(opts.url, opts.token, 'POST', `/${opts.repo}/runs`, { pipelineRuns, runs });
    done += n;
  }
}

/**
 * `count` versions of `path`: files of `size` bytes that each differ from the
 * previous one in a small region (so that versions share most chunks), uploaded
 * 100 per request, then recorded as a chain of commits on main.
 */
export async function seedVersions(opts: { url: string; token: string; repo: string; path: string; count: number; size?: number }): Promise<void> {
  const size = opts.size ?? 64 * 1024;
  let content = randomBytes(size);
  const pointers: { size: number; sha256: string; manifest: string }[] = [];
  for (let done = 0; done < opts.count; ) {
    const n = Math.min(100, opts.count - done);
    const boundary = `b${hex(8)}`;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      content = Buffer.from(content);
      randomBytes(256).copy(content, ((done + i) * 997) % (size - 256));
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f${i}"; filename="v${done + i}.csv"\r\nContent-Type: text/csv\r\n\r\n`), content, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    const up = (await api(opts.url, opts.token, 'POST', `/${opts.repo}/uploads`, Buffer.concat(parts), `multipart/form-data; boundary=${boundary}`)) as { files: { size: number; sha256: string; manifest: string }[] };
    pointers.push(...up.files.map((f) => ({ size: f.size, sha256: f.sha256, manifest: f.manifest })));
    done += n;
  }
  const t0 = Math.floor(Date.now() / 1000) - opts.count * 3600;
  const commits = pointers.map((p, i) => {
    const sha = createHash('sha1').update(`${opts.repo}:${opts.path}:${i}:${p.sha256}`).digest('hex');
    const person = { name: 'Bench', email: 'bench@example.com', time: t0 + i * 3600, tz: '+0000' };
    const pointer = { path: opts.path, type: 'file' as const, size: p.size, sha256: p.sha256, manifest: p.manifest };
    return { sha, parents: [] as string[], author: person, committer: person, message: `version ${i + 1} of ${opts.path}`, ...(i === 0 ? { pointers: [pointer] } : { changes: { set: [pointer], removed: [] as string[] } }) };
  });
  for (let i = 1; i < commits.length; i++) commits[i]!.parents = [commits[i - 1]!.sha];
  for (let i = 0; i < commits.length; i += 1000) {
    const batch = commits.slice(i, i + 1000);
    const last = i + 1000 >= commits.length;
    await api(opts.url, opts.token, 'POST', `/${opts.repo}/commits`, { commits: batch, refs: last ? [{ name: 'refs/heads/main', sha: commits.at(-1)!.sha }] : [] });
  }
}
