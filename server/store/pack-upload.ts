import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FormatError } from '../../core/errors.ts';
import type { PackPutResponse } from '../../core/protocol.ts';
import { StoreRefusal, VerificationFailed } from './errors.ts';
import { checkRefs, manifestRefs } from './manifest-refs.ts';
import { packKey } from './pack-keys.ts';
import { verifyPackFile } from './pack-scan.ts';
import type { Store } from './store.ts';

/**
 * PUT /repos/{repo}/packs/{id}: the body goes to a temp file, is verified whole
 * (core/pack.ts: index hash = pack id, every blob hash = its id), manifests'
 * references are checked, then the pack is stored (put-if-absent) and indexed,
 * with the repository's membership, in one transaction. Until that
 * transaction commits nothing of the pack is visible; a crash anywhere before
 * leaves at most an unindexed object in storage (gc removes it) or a temp file.
 */
export class ClientAborted extends Error {
  constructor() {
    super('the client closed the connection before the body was complete');
    this.name = 'ClientAborted';
  }
}

export async function uploadPack(store: Store, repo: string, packId: string, body: Readable, contentLength: number): Promise<{ created: boolean; response: PackPutResponse }> {
  const tmp = store.tmp.path('upload');
  let durable: Promise<void> | undefined;
  try {
    let received = 0;
    body.on('data', (c: Buffer) => (received += c.length));
    try {
      await pipeline(body, createWriteStream(tmp, { highWaterMark: 1 << 20 }));
    } catch (err) {
      if ((body as { aborted?: boolean }).aborted || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET') throw new ClientAborted();
      throw err;
    }
    if (received !== contentLength) throw new StoreRefusal(400, 'incomplete_body', `received ${received} of the ${contentLength} bytes announced by Content-Length`);
    // Started now, while the pack is verified from the page cache (fs: the disk write of its sync).
    durable = store.backend.prepareFile(tmp);

    let scanned;
    try {
      scanned = await verifyPackFile(tmp, contentLength, packId);
    } catch (err) {
      if (err instanceof FormatError) throw new VerificationFailed(`pack ${packId} failed verification: ${err.message}`);
      throw err;
    }
    const refs = manifestRefs(scanned.index, scanned.manifests);
    const existing = store.repos.get(repo);
    // Checked before the put so a refused pack costs no storage; checked again in the transaction, which is what counts.
    checkRefs(refs, (id) => (existing ? store.repos.memberType(existing.rid, id) : undefined));

    await durable;
    await store.backend.putFile(packKey(packId), tmp, contentLength);

    const now = Date.now();
    const outcome = store.transaction(() => {
      const { repo: row } = store.repos.ensure(repo, now);
      checkRefs(refs, (id) => store.repos.memberType(row.rid, id));
      const { added } = store.blobs.addPack(scanned.index, now);
      const newBlobs = store.repos.addMembers(row.rid, scanned.index.entries.map((e) => e.id));
      for (const f of refs.files) store.repos.addFile(row.rid, f.manifest.sha256, f.id, f.manifest.size);
      return { created: added, response: { pack: packId, blobs: scanned.index.entries.length, newBlobs, stored: added } };
    });
    // The commit records that name these manifests usually come next (pre-push): they need not be read back from storage.
    for (const d of refs.decoded) store.rememberManifest(d.id, d.manifest, d.bytes);
    return outcome;
  } finally {
    await durable;
    await store.tmp.remove(tmp);
  }
}
