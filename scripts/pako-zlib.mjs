// pako, as the CLI bundle gives it to isomorphic-git (see bundleCli in build.mjs):
// one-shot inflate and deflate by Node's native zlib, which reading history
// calls once per git object (pako's JavaScript inflate, with its per-call
// state set-up, was most of the pre-push hook's time). Node's inflate stops
// at the end of the zlib stream and ignores what follows, as pako does (packs
// are inflated from an object's offset to the end of the pack). The streaming
// Inflate class (indexing fetched packs) stays pako's.
import { deflateSync, inflateSync } from 'node:zlib';
import pako from 'pako';

export default {
  ...pako,
  inflate: (data) => inflateSync(data),
  deflate: (data) => deflateSync(data),
};
