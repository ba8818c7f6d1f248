import { DEFAULT_CHUNKER } from '../../core/chunker.ts';
import { encodeFileManifest, fileManifestId, type FileManifest } from '../../core/file-manifest.ts';
import { blake3Hex, loadHashing, sha256Hex } from '../../core/hash.ts';
import { BlobType, PackBuilder } from '../../core/pack.ts';
import { encodeIdList, decodeIdList, MediaType } from '../../core/protocol.ts';
import { encodeTreeManifest, MODE_FILE, treeManifestId, treeSha256, type TreeEntry } from '../../core/tree-manifest.ts';
import { request, type Answer } from './http.ts';

/**
 * Packs and a small push driver for server tests, built from core/ only (the
 * server's own code is never imported by tests of its HTTP behaviour).
 * Files are cut in fixed 16 KiB chunks: valid for the default chunker
 * parameters, and predictable.
 */
await loadHashing();

export interface Blob {
  readonly id: string;
  readonly type: BlobType;
  readonly data: Buffer;
}

export interface Pack {
  readonly id: string;
  readonly bytes: Buffer;
  readonly blobs: readonly Blob[];
}

export function chunkBlob(data: Buffer): Blob {
  return { id: blake3Hex(data), type: BlobType.chunk, data };
}

export function makePack(blobs: readonly Blob[]): Pack {
  const b = new PackBuilder();
  for (const x of blobs) b.add(x.id, x.type, x.data.length);
  const { tail, index } = b.finish();
  return { id: index.packId, bytes: Buffer.concat([...blobs.map((x) => x.data), tail]), blobs };
}

export interface TestFile {
  readonly data: Buffer;
  readonly sha256: string;
  readonly chunks: Blob[];
  readonly manifest: Blob;
  readonly fileManifest: FileManifest;
}

export function makeFile(data: Buffer, chunkBytes = 16384): TestFile {
  const chunks: Blob[] = [];
  for (let at = 0; at < data.length; at += chunkBytes) chunks.push(chunkBlob(data.subarray(at, at + chunkBytes)));
  const fileManifest: FileManifest = { chunker: DEFAULT_CHUNKER, size: data.length, sha256: sha256Hex(data), chunks: chunks.map((c) => ({ id: c.id, length: c.data.length })) };
  const bytes = encodeFileManifest(fileManifest);
  return { data, sha256: fileManifest.sha256, chunks, manifest: { id: fileManifestId(bytes), type: BlobType.fileManifest, data: bytes }, fileManifest };
}

export function makeTree(files: Record<string, TestFile>): { blob: Blob; sha256: string; entries: TreeEntry[] } {
  const entries: TreeEntry[] = Object.keys(files)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((path) => ({ path, mode: MODE_FILE, size: files[path]!.data.length, sha256: files[path]!.sha256, manifest: files[path]!.manifest.id }));
  const bytes = encodeTreeManifest({ entries });
  return { blob: { id: treeManifestId(bytes), type: BlobType.treeManifest, data: bytes }, sha256: treeSha256(bytes), entries };
}

export function putPack(url: string, repo: string, token: string, pack: Pack, headers: Record<string, string | number> = {}): Promise<Answer> {
  return request(url, `/api/v1/repos/${repo}/packs/${pack.id}`, { method: 'PUT', token, body: pack.bytes, headers: { 'content-type': MediaType.pack, ...headers } });
}

export async function missing(url: string, repo: string, token: string, ids: string[]): Promise<string[]> {
  const a = await request(url, `/api/v1/repos/${repo}/blobs/missing`, { method: 'POST', token, body: encodeIdList(ids), headers: { 'content-type': MediaType.ids } });
  if (a.status !== 200) throw new Error(`blobs/missing answered ${a.status}: ${a.text()}`);
  return decodeIdList(a.body);
}

/**
 * Pushes blobs the way the protocol says: negotiate, upload the missing chunks
 * in packs of at most `packBytes`, then the manifests in a pack of their own.
 */
export async function push(url: string, repo: string, token: string, chunks: Blob[], manifests: Blob[], packBytes = 1 << 20): Promise<void> {
  const want = new Set(await missing(url, repo, token, [...new Set(chunks.map((c) => c.id))]));
  let batch: Blob[] = [];
  let size = 0;
  const send = async () => {
    if (batch.length === 0) return;
    const a = await putPack(url, repo, token, makePack(batch));
    if (a.status !== 200 && a.status !== 201) throw new Error(`pack upload answered ${a.status}: ${a.text()}`);
    batch = [];
    size = 0;
  };
  for (const c of chunks) {
    if (!want.has(c.id)) continue;
    want.delete(c.id);
    batch.push(c);
    size += c.data.length;
    if (size >= packBytes) await send();
  }
  await send();
  const wantManifests = new Set(await missing(url, repo, token, manifests.map((m) => m.id)));
  batch = manifests.filter((m) => wantManifests.has(m.id));
  await send();
}

export function pushFile(url: string, repo: string, token: string, f: TestFile): Promise<void> {
  return push(url, repo, token, f.chunks, [f.manifest]);
}
