import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { createBLAKE3 } from 'hash-wasm';

/**
 * Worker side of HashPool: BLAKE3-256 of byte ranges of a shared memory that
 * the owning thread filled, and optionally, first, a SHA-256 update over a
 * range (a file's identity hash, which must see its bytes in order: one worker
 * gets all the updates of a stream, and messages are handled in arrival order).
 */
export interface ShaUpdate {
  stream: number;
  offset: number;
  length: number;
}

export type HashRequest =
  | { type: 'attach'; mem: number; buffer: SharedArrayBuffer }
  | { type: 'detach'; mem: number }
  | { type: 'hash'; seq: number; mem: number; offsets: Uint32Array; lengths: Uint32Array; sha?: ShaUpdate }
  | { type: 'sha-digest'; seq: number; stream: number };
export type HashReply = { seq: number; ids: Uint8Array } | { seq: number; digest: string } | { seq: number; error: string };

const port = parentPort!;
const hasherReady = createBLAKE3(256);
const memories = new Map<number, Uint8Array>();
const streams = new Map<number, Hash>();
let queue: Promise<void> = Promise.resolve();
let scratch = new Uint8Array(1 << 17);

port.on('message', (msg: HashRequest) => {
  queue = queue.then(async () => {
    const hasher = await hasherReady;
    switch (msg.type) {
      case 'attach':
        memories.set(msg.mem, new Uint8Array(msg.buffer));
        return;
      case 'detach':
        memories.delete(msg.mem);
        return;
      case 'sha-digest': {
        const h = streams.get(msg.stream);
        streams.delete(msg.stream);
        port.postMessage((h ? { seq: msg.seq, digest: h.digest('hex') } : { seq: msg.seq, error: `no sha stream ${msg.stream}` }) satisfies HashReply);
        return;
      }
      case 'hash': {
        const mem = memories.get(msg.mem);
        if (!mem) {
          port.postMessage({ seq: msg.seq, error: `memory ${msg.mem} is not attached` } satisfies HashReply);
          return;
        }
        if (msg.sha) {
          let h = streams.get(msg.sha.stream);
          if (!h) streams.set(msg.sha.stream, (h = createHash('sha256')));
          h.update(mem.subarray(msg.sha.offset, msg.sha.offset + msg.sha.length));
        }
        const n = msg.offsets.length;
        const ids = new Uint8Array(32 * n);
        for (let i = 0; i < n; i++) {
          const start = msg.offsets[i]!;
          const length = msg.lengths[i]!;
          // hash-wasm copies its input into its own memory. Out of shared memory
          // V8 copies byte by byte unless source and target are equally aligned,
          // so first copy from the chunk's 8-aligned start into an aligned local
          // buffer (word copies), which hash-wasm then copies at memcpy speed.
          const from = start & ~7;
          const skew = start - from;
          if (scratch.length < skew + length) scratch = new Uint8Array(Math.max(skew + length, 2 * scratch.length));
          scratch.set(mem.subarray(from, start + length));
          hasher.init();
          hasher.update(scratch.subarray(skew, skew + length));
          ids.set(hasher.digest('binary'), 32 * i);
        }
        port.postMessage({ seq: msg.seq, ids } satisfies HashReply, [ids.buffer]);
      }
    }
  });
});
