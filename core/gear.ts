import { createHash } from 'node:crypto';

/**
 * The gear table of dvx's content-defined chunker, format version 1.
 *
 * Entry i is the little-endian u32 made of the first four bytes of
 * SHA-256("dvx-gear-v1" || byte(i)). Anyone can recompute it in any language; the
 * test suite freezes it (first entries and a digest of the whole table), because
 * changing one bit of it moves every cut point and breaks dedup against every
 * stored chunk.
 */
export const GEAR_SEED = 'dvx-gear-v1';

function deriveGear(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const digest = createHash('sha256').update(GEAR_SEED).update(Uint8Array.of(i)).digest();
    table[i] = digest.readUInt32LE(0);
  }
  return table;
}

export const GEAR: Readonly<Uint32Array> = deriveGear();
