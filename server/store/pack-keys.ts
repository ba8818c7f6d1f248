import { isId } from '../../core/hex.ts';

/** Where a pack lives in a storage backend: `packs/<first two hex digits>/<pack id>`. */
export const PACKS_PREFIX = 'packs/';

export function packKey(id: string): string {
  return `${PACKS_PREFIX}${id.slice(0, 2)}/${id}`;
}

/** The pack id a key names, or undefined for anything else found under the prefix. */
export function packIdOfKey(key: string): string | undefined {
  const m = /^packs\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key);
  return m && isId(m[2]) && m[2]!.startsWith(m[1]!) ? m[2] : undefined;
}
