import { open } from 'node:fs/promises';
import { DEFAULT_CHUNKER } from '../../core/chunker.ts';
import { encodeFileManifestEntries, fileManifestId } from '../../core/file-manifest.ts';
import { fdSource, Ingestor, iterableSource, type ByteSource } from '../../core/ingest.ts';
import { BlobType } from '../../core/pack.ts';
import { StorageUnavailable } from '../storage/errors.ts';
import { PackWriter } from './pack-writer.ts';
import type { Store } from './store.ts';

/**
 * Plain uploads and Git LFS uploads: files received to disk (multer), or a
 * request body streamed in (LFS), are chunked and deduplicated
 * on the server exactly as `dvx add` does on a client (core/ingest.ts), packed
 * into server-built packs, and made known to the repository only when every
 * chunk and the manifest are stored. Reads never block the event loop
 * (fdSource); ingests run one or two at a time so memory stays bounded.
 */
export interface IngestedFile {
  readonly size: number;
  readonly sha256: string;
  readonly manifest: string;
  /** chunk bytes the server did not store before */
  readonly newBytes: number;
}

const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** One input of an ingest: a byte source, closed whatever happens. */
interface Input {
  open(): Promise<{ source: ByteSource; close(): Promise<void> }>;
}

export function ingestFiles(store: Store, repo: string, paths: readonly string[]): Promise<IngestedFile[]> {
  return ingest(
    store,
    repo,
    paths.map((path) => ({
      async open() {
        const fh = await open(path, 'r');
        return { source: fdSource(fh.fd), close: () => fh.close() };
      },
    })),
  );
}

/**
 * One file streamed from a request body (Git LFS upload) straight into the
 * chunker: never buffered whole, never written to a temp file. `check` sees
 * the whole content's size and sha256 before anything is made known to the
 * repository, and throws to refuse it (the pack still open is dropped; full
 * packs already stored hold only chunks no repository references, which gc
 * removes).
 */
export async function ingestStream(opts: { store: Store; repo: string; body: AsyncIterable<Uint8Array>; check: (f: { size: number; sha256: string }) => void }): Promise<IngestedFile> {
  const [r] = await ingest(opts.store, opts.repo, [{ open: async () => ({ source: iterableSource(opts.body), close: async () => {} }) }], opts.check);
  return r!;
}

function ingest(store: Store, repo: string, inputs: readonly Input[], check?: (f: { size: number; sha256: string }) => void): Promise<IngestedFile[]> {
  return slot(async () => {
    const ingestor = await Ingestor.create({ params: DEFAULT_CHUNKER });
    const writer = new PackWriter(store);
    const members = new Set<string>();
    const results: IngestedFile[] = [];
    const files: { sha256: string; manifest: string; size: number }[] = [];
    try {
      for (const input of inputs) {
        const { source, close } = await input.open();
        let before = writer.newChunkBytes;
        try {
          // The ingestor hands over the next batch before the last one is written
          // (core/ingest.ts); the PackWriter queues them in call order.
          const r = await ingestor.ingest(source, (chunks) => {
            for (const c of chunks) members.add(c.id);
            return writer.addMany(chunks.map((c) => ({ id: c.id, type: BlobType.chunk, data: c.data })));
          });
          check?.({ size: r.size, sha256: r.sha256 });
          const bytes = encodeFileManifestEntries({ chunker: ingestor.params, size: r.size, sha256: r.sha256 }, r.chunks.entries());
          const manifest = fileManifestId(bytes);
          await writer.add(manifest, BlobType.fileManifest, bytes);
          members.add(manifest);
          files.push({ sha256: r.sha256, manifest, size: r.size });
          results.push({ size: r.size, sha256: r.sha256, manifest, newBytes: writer.newChunkBytes - before });
          before = writer.newChunkBytes;
        } finally {
          await close();
        }
      }
      await writer.flush();
    } catch (err) {
      await writer.discard();
      throw err;
    } finally {
      ingestor.close();
    }
    const now = Date.now();
    store.transaction(() => {
      // Deduplicated blobs were stored before this upload began; gc may have swept one since.
      for (const id of members) {
        if (!store.blobs.has(id)) throw new StorageUnavailable('index', 'upload', `blob ${id} was collected while this upload ran`);
      }
      const { repo: row } = store.repos.ensure(repo, now);
      store.repos.addMembers(row.rid, members);
      for (const f of files) store.repos.addFile(row.rid, f.sha256, f.manifest, f.size);
    });
    return results;
  });
}
