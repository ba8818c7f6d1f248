import { FormatError } from '../../core/errors.ts';
import { decodeFileManifest, type FileManifest } from '../../core/file-manifest.ts';
import { BlobType, type PackIndex } from '../../core/pack.ts';
import { decodeTreeManifest, type TreeManifest } from '../../core/tree-manifest.ts';
import { VerificationFailed } from './errors.ts';

/**
 * What the manifests of an uploaded pack reference, so that a manifest is
 * accepted only when all of its data is there (docs/protocol.md, push step 3):
 * a file manifest's chunks, a tree manifest's file manifests.
 */
export interface ManifestRefs {
  /** blobs referenced and not in the pack itself, with the type each must have */
  readonly external: Map<string, { type: BlobType; by: string }>;
  /** file manifests of the pack, decoded (their contents become servable by sha256) */
  readonly files: { id: string; manifest: FileManifest }[];
  /** every manifest of the pack, decoded, with its encoded size */
  readonly decoded: { id: string; manifest: FileManifest | TreeManifest; bytes: number }[];
}

export function manifestRefs(index: PackIndex, manifests: Map<string, { type: BlobType; bytes: Buffer }>): ManifestRefs {
  const inPack = new Map(index.entries.map((e) => [e.id, e.type]));
  const external = new Map<string, { type: BlobType; by: string }>();
  const files: ManifestRefs['files'] = [];
  const decoded: ManifestRefs['decoded'] = [];
  for (const [id, { type, bytes }] of manifests) {
    let refs: string[];
    let want: BlobType;
    try {
      if (type === BlobType.fileManifest) {
        const m = decodeFileManifest(bytes);
        files.push({ id, manifest: m });
        decoded.push({ id, manifest: m, bytes: bytes.length });
        refs = m.chunks.map((c) => c.id);
        want = BlobType.chunk;
      } else {
        const t = decodeTreeManifest(bytes);
        decoded.push({ id, manifest: t, bytes: bytes.length });
        refs = t.entries.map((e) => e.manifest);
        want = BlobType.fileManifest;
      }
    } catch (err) {
      if (err instanceof FormatError) throw new VerificationFailed(`blob ${id} is typed as a ${type === BlobType.fileManifest ? 'file' : 'tree'} manifest but does not decode: ${err.message}`);
      throw err;
    }
    for (const ref of refs) {
      const t = inPack.get(ref);
      if (t !== undefined) {
        if (t !== want) throw new VerificationFailed(`manifest ${id} references ${ref}, which this pack holds as a blob of the wrong type`);
        continue;
      }
      if (!external.has(ref)) external.set(ref, { type: want, by: id });
    }
  }
  return { external, files, decoded };
}

/** Throws naming the first referenced blob the repository lacks (or holds with another type). */
export function checkRefs(refs: ManifestRefs, memberType: (id: string) => BlobType | undefined): void {
  for (const [ref, { type, by }] of refs.external) {
    const t = memberType(ref);
    if (t === undefined) throw new VerificationFailed(`manifest ${by} references blob ${ref}, which the repository does not have: upload the packs holding its data first`);
    if (t !== type) throw new VerificationFailed(`manifest ${by} references blob ${ref}, which the repository holds as a different type of blob`);
  }
}
