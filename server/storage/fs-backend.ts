import { createReadStream } from 'node:fs';
import { chmod, link, mkdir, open, opendir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { StorageBackend, StoredObject } from './backend.ts';
import { ObjectMissing, ObjectTruncated, StorageUnavailable } from './errors.ts';

/**
 * Local-folder backend: an object is a read-only file at `<root>/<key>`.
 * A put hard-links the finished temp file into place: link() never replaces an
 * existing name, so two writers of the same content race harmlessly and a
 * reader never sees a partial object. The temp file must be on the same file
 * system (DATA_DIR/tmp beside DATA_DIR/packs).
 */
const UNAVAILABLE = new Set(['EIO', 'ENOSPC', 'EDQUOT', 'EROFS', 'ENOTCONN', 'ESTALE', 'EMFILE', 'ENFILE', 'ETIMEDOUT']);

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FsBackend implements StorageBackend {
  readonly kind = 'fs' as const;
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  private fail(err: unknown, op: string, key: string): Error {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') return new ObjectMissing(key, { cause: err });
    if (code && UNAVAILABLE.has(code)) return new StorageUnavailable('fs', op, `${code} on ${key}`, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async prepareFile(path: string): Promise<void> {
    // After this, putFile's own sync finds nothing left to write.
    await syncFile(path).catch(() => {});
  }

  async putFile(key: string, path: string): Promise<boolean> {
    const dest = this.path(key);
    try {
      // Durable before visible: the link makes the object exist, so its bytes go to disk first.
      await syncFile(path);
      await mkdir(dirname(dest), { recursive: true });
      try {
        await link(path, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      await chmod(dest, 0o444);
      const dir = await open(dirname(dest), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      return true;
    } catch (err) {
      throw this.fail(err, 'put', key);
    }
  }

  async readInto(key: string, offset: number, length: number, into: Buffer): Promise<void> {
    let fh;
    try {
      fh = await open(this.path(key), 'r');
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(into, done, length - done, offset + done);
        if (bytesRead === 0) throw new ObjectTruncated(key, `cannot read ${length} bytes at offset ${offset}`);
        done += bytesRead;
      }
    } catch (err) {
      throw this.fail(err, 'read', key);
    } finally {
      await fh?.close();
    }
  }

  async readStream(key: string, offset = 0, length?: number): Promise<Readable> {
    const path = this.path(key);
    try {
      const fh = await open(path, 'r');
      return createReadStream('', { fd: fh, start: offset, end: length === undefined ? undefined : offset + length - 1, highWaterMark: 1 << 20 });
    } catch (err) {
      throw this.fail(err, 'read', key);
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.fail(err, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    // Keys are listed by walking the folder of the prefix's directory part.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = base ? this.path(base) : this.root;
    const walk = async function* (self: FsBackend, dir: string): AsyncIterable<StoredObject> {
      let handle;
      try {
        handle = await opendir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw self.fail(err, 'list', prefix);
      }
      for await (const e of handle) {
        const p = join(dir, e.name);
        if (e.isDirectory()) yield* walk(self, p);
        else if (e.isFile()) {
          const key = relative(self.root, p).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const st = await stat(p).catch(() => undefined);
          if (st) yield { key, size: st.size, lastModified: st.mtime };
        }
      }
    };
    yield* walk(this, start);
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.fail(err, 'delete', key);
    }
  }

  async ping(): Promise<void> {
    try {
      await stat(this.root);
    } catch (err) {
      throw new StorageUnavailable('fs', 'ping', (err as NodeJS.ErrnoException).code ?? 'error', { cause: err });
    }
  }

  async close(): Promise<void> {}
}
