import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError } from '../../core/errors.ts';

/**
 * The property every dvx decoder must have: on any input it either throws a
 * FormatError (never another error, never a hang), or returns a value whose
 * encoding is exactly the input (one canonical encoding).
 *
 * Inputs are valid encodings mutated by bit flips, byte overwrites, truncation,
 * insertion and deletion, plus plain random bytes.
 */
export function fuzzDecoder<T>(opts: {
  decode: (bytes: Uint8Array) => T;
  encode: (value: T) => Uint8Array;
  samples: Uint8Array[];
  runs?: number;
}): void {
  const { decode, encode, samples } = opts;
  const mutated = fc
    .tuple(fc.integer({ min: 0, max: samples.length - 1 }), fc.array(mutation(), { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => ms.reduce<Uint8Array>((b, m) => m(b), Uint8Array.from(samples[i]!)));
  const input = fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) });
  fc.assert(
    fc.property(input, (bytes) => {
      let value: T;
      try {
        value = decode(bytes);
      } catch (err) {
        if (!(err instanceof FormatError)) throw new Error(`decoder threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
        return;
      }
      assert.deepEqual(Buffer.from(encode(value)), Buffer.from(bytes), 'decoded a non-canonical encoding');
    }),
    { numRuns: Number(process.env.DVX_FUZZ_RUNS) || opts.runs || 2000 },
  );
}

type Mutation = (b: Uint8Array) => Uint8Array;
function mutation(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]): Mutation => (b) => {
      if (b.length === 0) return b;
      const c = Uint8Array.from(b);
      c[at % c.length]! ^= 1 << bit;
      return c;
    }),
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]): Mutation => (b) => {
      if (b.length === 0) return b;
      const c = Uint8Array.from(b);
      c[at % c.length] = v;
      return c;
    }),
    fc.nat().map((n): Mutation => (b) => b.subarray(0, b.length === 0 ? 0 : n % b.length)),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, ins]): Mutation => (b) => {
      const i = b.length === 0 ? 0 : at % (b.length + 1);
      return Uint8Array.from([...b.subarray(0, i), ...ins, ...b.subarray(i)]);
    }),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(([at, n]): Mutation => (b) => {
      if (b.length === 0) return b;
      const i = at % b.length;
      return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + n)]);
    }),
  );
}
