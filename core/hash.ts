import { createHash, type Hash } from 'node:crypto';
import { createBLAKE3, type IHasher } from 'hash-wasm';

/**
 * The two hashes of the format:
 * - BLAKE3-256 names every stored object (chunks, manifests, packs), via hash-wasm;
 * - SHA-256 names a file's whole content (node:crypto), so `sha256sum` can check
 *   it and Git LFS object ids map onto it directly.
 *
 * hash-wasm's hashers are created asynchronously but then run synchronously; one
 * hasher per thread is reused for every object (creating one costs ~1 ms).
 */
let shared: IHasher | undefined;

export async function loadHashing(): Promise<void> {
  shared ??= await createBLAKE3(256);
}

function hasher(): IHasher {
  if (!shared) throw new Error('loadHashing() must be awaited before hashing');
  return shared;
}

export function blake3(...parts: Uint8Array[]): Buffer {
  const h = hasher().init();
  for (const p of parts) h.update(p);
  const out = h.digest('binary');
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function blake3Hex(...parts: Uint8Array[]): string {
  const h = hasher().init();
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export function sha256(): Hash {
  return createHash('sha256');
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
