import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { HashReply, HashRequest, ShaUpdate } from './hash-worker.ts';

/**
 * A pool of worker threads that BLAKE3-hash ranges of shared memories, so that
 * chunk hashing (the most expensive step of ingest, ~600 MB/s per core with
 * hash-wasm) runs beside reading, SHA-256 and chunking on the main thread.
 *
 * Workers are unref'd while idle so an idle pool never holds a process open.
 */
const fromSource = import.meta.url.endsWith('.ts');
const workerFile = new URL(`./hash-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

function startWorker(): Worker {
  // Small heaps: a worker holds hash state and a few id arrays, and every MiB
  // of young generation per thread shows up in the RSS budget of `dvx add`.
  const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };
  if (!fromSource) return new Worker(workerFile, { resourceLimits });
  // Running from TypeScript sources (tests, benchmarks): Node 20 does not apply
  // the parent's --import loader to a worker's entry file, so register tsx first.
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(workerFile.href)}); })`, { eval: true, resourceLimits });
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
  attached: Set<number>;
}

export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly waiting = new Map<number, { resolve: (reply: HashReply) => void; reject: (err: Error) => void }>();
  private nextStream = 1;
  private seq = 0;
  private nextMem = 1;
  private readonly memIds = new WeakMap<SharedArrayBuffer, number>();
  private closed = false;

  constructor(readonly size: number = Number(process.env.DVX_HASH_WORKERS) || Math.max(1, Math.min(4, availableParallelism()))) {}

  private spawn(): PoolWorker {
    const worker = startWorker();
    const pw: PoolWorker = { worker, inFlight: 0, attached: new Set() };
    worker.on('message', (reply: HashReply) => {
      pw.inFlight--;
      if (pw.inFlight === 0) worker.unref();
      const w = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      if (!w) return;
      if ('error' in reply) w.reject(new Error(`hash worker: ${reply.error}`));
      else w.resolve(reply);
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new Error(`hash worker exited with code ${code}`));
    });
    worker.unref();
    return pw;
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  private memId(buffer: SharedArrayBuffer): number {
    let id = this.memIds.get(buffer);
    if (id === undefined) {
      id = this.nextMem++;
      this.memIds.set(buffer, id);
    }
    return id;
  }

  /** Gives a worker the memory once; later requests name it by id. */
  private attach(pw: PoolWorker, mem: number, buffer: SharedArrayBuffer): void {
    if (pw.attached.has(mem)) return;
    this.send(pw, { type: 'attach', mem, buffer });
    pw.attached.add(mem);
  }

  private send(pw: PoolWorker, msg: HashRequest): void {
    pw.worker.postMessage(msg);
  }

  private request(pw: PoolWorker, build: (seq: number) => HashRequest): Promise<HashReply> {
    const seq = this.seq++;
    const reply = new Promise<HashReply>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    if (pw.inFlight++ === 0) pw.worker.ref();
    this.send(pw, build(seq));
    return reply;
  }

  /** Starts workers up to `n` (all by default): a caller that needs one does not pay for starting the rest. */
  private ensureWorkers(n = this.size): void {
    if (this.closed) throw new Error('hash pool is closed');
    while (this.workers.length < Math.min(n, this.size)) this.workers.push(this.spawn());
  }

  /** A new SHA-256 stream, fed by the `sha` part of hash() calls, in call order. */
  newShaStream(): number {
    return this.nextStream++;
  }

  /**
   * BLAKE3-256 of each range [offsets[i], offsets[i]+lengths[i]) of `buffer`,
   * concatenated (32 bytes per range), split across the workers. With `sha`,
   * worker 0 first adds that range to its SHA-256 stream, and takes a smaller
   * share of the chunks so every worker has about the same work.
   */
  async hash(buffer: SharedArrayBuffer, offsets: Uint32Array, lengths: Uint32Array, sha?: ShaUpdate): Promise<Uint8Array> {
    this.ensureWorkers();
    const mem = this.memId(buffer);
    const n = offsets.length;
    let total = 0;
    for (let i = 0; i < n; i++) total += lengths[i]!;
    // SHA-256 (SHA-NI, ~1.5 GB/s) costs about a third of hash-wasm's BLAKE3 (~0.5 GB/s) per byte.
    const shaWork = sha ? sha.length / 3 : 0;
    const share = (total + shaWork) / this.workers.length;
    const parts: Promise<HashReply>[] = [];
    let from = 0;
    for (let w = 0; w < this.workers.length && (from < n || (w === 0 && sha)); w++) {
      const quota = w === 0 ? share - shaWork : share;
      let to = from;
      let bytes = 0;
      const last = w === this.workers.length - 1;
      while (to < n && (last || bytes + lengths[to]! / 2 < quota)) bytes += lengths[to++]!;
      const pw = this.workers[w]!;
      this.attach(pw, mem, buffer);
      const part = { offsets: offsets.slice(from, to), lengths: lengths.slice(from, to) };
      parts.push(this.request(pw, (seq) => ({ type: 'hash', seq, mem, ...part, ...(w === 0 && sha ? { sha } : {}) })));
      from = to;
    }
    const results = (await Promise.all(parts)).map((r) => (r as { ids: Uint8Array }).ids);
    if (results.length === 0) return new Uint8Array(0);
    if (results.length === 1) return results[0]!;
    const out = new Uint8Array(32 * n);
    let at = 0;
    for (const r of results) {
      out.set(r, at);
      at += r.length;
    }
    return out;
  }

  /**
   * Adds a range of `buffer` to a SHA-256 stream on worker 0, off the calling
   * thread; resolves once the worker has read the range.
   */
  async shaUpdate(buffer: SharedArrayBuffer, stream: number, offset: number, length: number): Promise<void> {
    this.ensureWorkers(1);
    const pw = this.workers[0]!;
    const mem = this.memId(buffer);
    this.attach(pw, mem, buffer);
    const none = new Uint32Array(0);
    await this.request(pw, (seq) => ({ type: 'hash', seq, mem, offsets: none, lengths: none, sha: { stream, offset, length } }));
  }

  /** Ends a SHA-256 stream (after every hash() that fed it resolved). */
  async shaDigest(stream: number): Promise<string> {
    this.ensureWorkers(1);
    const reply = await this.request(this.workers[0]!, (seq) => ({ type: 'sha-digest', seq, stream }));
    return (reply as { digest: string }).digest;
  }

  /** Lets workers drop a memory that will not be hashed again. */
  release(buffer: SharedArrayBuffer): void {
    const mem = this.memIds.get(buffer);
    if (mem === undefined) return;
    for (const pw of this.workers) {
      if (pw.attached.delete(mem)) this.send(pw, { type: 'detach', mem });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('hash pool closed'));
    await Promise.all(this.workers.map((pw) => pw.worker.terminate()));
    this.workers.length = 0;
  }
}

let sharedPool: HashPool | undefined;
/** One pool per process, for callers that do not manage their own. */
export function defaultHashPool(): HashPool {
  sharedPool ??= new HashPool();
  return sharedPool;
}
