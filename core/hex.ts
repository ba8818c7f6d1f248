import { FormatError } from './errors.ts';

/** Object ids (BLAKE3-256) and sha256 digests travel as 64 lowercase hex digits. */
const ID_RE = /^[0-9a-f]{64}$/;

export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s);
}

export function assertId(s: unknown, what: string): string {
  if (!isId(s)) throw new FormatError(what, `expected 64 lowercase hex digits, got ${JSON.stringify(String(s).slice(0, 80))}`);
  return s;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}
