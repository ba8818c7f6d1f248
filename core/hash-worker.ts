import { parentPort } from 'node:worker_threads';
import { createBLAKE3 } from 'hash-wasm';

/**
 * Worker side of HashPool: BLAKE3-256 of byte ranges of a shared memory that the
 * owning thread filled. Messages are handled strictly in arrival order.
 */
export type HashRequest =
  | { type: 'attach'; mem: number; buffer: SharedArrayBuffer }
  | { type: 'detach'; mem: number }
  | { type: 'hash'; seq: number; mem: number; offsets: Uint32Array; lengths: Uint32Array };
export type HashReply = { seq: number; ids: Uint8Array } | { seq: number; error: string };

const port = parentPort!;
const hasherReady = createBLAKE3(256);
const memories = new Map<number, Uint8Array>();
let queue: Promise<void> = Promise.resolve();

port.on('message', (msg: HashRequest) => {
  queue = queue.then(async () => {
    const hasher = await hasherReady;
    if (msg.type === 'attach') {
      memories.set(msg.mem, new Uint8Array(msg.buffer));
    } else if (msg.type === 'detach') {
      memories.delete(msg.mem);
    } else {
      const mem = memories.get(msg.mem);
      if (!mem) {
        port.postMessage({ seq: msg.seq, error: `memory ${msg.mem} is not attached` } satisfies HashReply);
        return;
      }
      const n = msg.offsets.length;
      const ids = new Uint8Array(32 * n);
      for (let i = 0; i < n; i++) {
        const start = msg.offsets[i]!;
        hasher.init();
        hasher.update(mem.subarray(start, start + msg.lengths[i]!));
        ids.set(hasher.digest('binary'), 32 * i);
      }
      port.postMessage({ seq: msg.seq, ids } satisfies HashReply, [ids.buffer]);
    }
  });
});
