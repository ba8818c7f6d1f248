import { FormatError } from './errors.ts';

/** Bounds-checked little-endian reads for the binary decoders; every overrun is a FormatError. */
export class ByteReader {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get offset(): number { return this.pos; }
  get remaining(): number { return this.bytes.length - this.pos; }

  private need(n: number, field: string): void {
    if (this.pos + n > this.bytes.length) throw new FormatError(this.what, `truncated at ${field} (offset ${this.pos}, need ${n} bytes, have ${this.remaining})`);
  }
  u8(field: string): number { this.need(1, field); return this.view.getUint8(this.pos++); }
  u16(field: string): number { this.need(2, field); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(field: string): number { this.need(4, field); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  u64(field: string): number {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(this.what, `${field} ${v} is too large`);
    this.pos += 8;
    return Number(v);
  }
  bytes_(n: number, field: string): Uint8Array { this.need(n, field); const v = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  hex32(field: string): string { return Buffer.from(this.bytes_(32, field)).toString('hex'); }
  expectMagic(magic: Uint8Array, field = 'magic'): void {
    const got = this.bytes_(magic.length, field);
    if (Buffer.compare(got, magic) !== 0) throw new FormatError(this.what, `bad ${field}: expected ${JSON.stringify(Buffer.from(magic).toString('latin1'))}`);
  }
  expectZero(n: number, field: string): void {
    const got = this.bytes_(n, field);
    if (got.some((b) => b !== 0)) throw new FormatError(this.what, `${field} must be zero`);
  }
  end(): void {
    if (this.remaining !== 0) throw new FormatError(this.what, `${this.remaining} unexpected trailing bytes`);
  }
}

/** Little-endian writes into a preallocated buffer, for the encoders. */
export class ByteWriter {
  private pos = 0;
  readonly buf: Buffer;
  constructor(size: number) { this.buf = Buffer.alloc(size); }
  u8(v: number): this { this.buf.writeUInt8(v, this.pos); this.pos += 1; return this; }
  u16(v: number): this { this.buf.writeUInt16LE(v, this.pos); this.pos += 2; return this; }
  u32(v: number): this { this.buf.writeUInt32LE(v, this.pos); this.pos += 4; return this; }
  u64(v: number): this { this.buf.writeBigUInt64LE(BigInt(v), this.pos); this.pos += 8; return this; }
  raw(b: Uint8Array): this { this.buf.set(b, this.pos); this.pos += b.length; return this; }
  hex(h: string): this { this.pos += this.buf.write(h, this.pos, 'hex'); return this; }
  done(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`encoder wrote ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }
}
