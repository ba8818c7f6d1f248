import type { Readable } from 'node:stream';

/**
 * Where packs live. The backend is the source of truth for bytes (the SQLite
 * index can be rebuilt from it); objects are content-addressed and immutable,
 * so every write is "put if absent" and every read may be ranged.
 *
 * Keys are '/'-separated, built by the server only (store/pack-keys.ts), never
 * from request input.
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface StorageBackend {
  readonly kind: 'fs' | 'azure';
  /** where, for logs and messages shown to operators (never to API clients) */
  readonly location: string;
  /** Creates the container or folder if missing. */
  init(): Promise<void>;
  /**
   * Stores the whole file at `path` under `key` unless an object is already
   * there (content addressing makes it the same bytes). Returns whether this
   * call created it. The caller still owns, and removes, the file at `path`.
   */
  putFile(key: string, path: string, size: number): Promise<boolean>;
  /**
   * Starts, ahead of putFile, what putFile will need to do with the file at
   * `path` on its own (fs: make it durable), so the caller can overlap it with
   * other work. Never rejects: putFile does the same again and reports.
   */
  prepareFile(path: string): Promise<void>;
  /** Reads exactly `length` bytes at `offset` into `into` (from its start). */
  readInto(key: string, offset: number, length: number, into: Buffer): Promise<void>;
  /** A stream of `length` bytes from `offset` (default: to the end). */
  readStream(key: string, offset?: number, length?: number): Promise<Readable>;
  /** Size in bytes, or undefined if there is no such object. */
  size(key: string): Promise<number | undefined>;
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Removes an object; absent already is fine. */
  delete(key: string): Promise<void>;
  /** Resolves when storage answers (health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
