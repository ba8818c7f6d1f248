/**
 * Splits `items`, in order, into runs of at most `maxCount` items whose sizes
 * add up to at most `maxBytes` (a single larger item makes a run of its own):
 * how a transfer keeps each request within the protocol's limits.
 */
export function splitBySize<T>(items: readonly T[], size: (item: T) => number, maxBytes: number, maxCount: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (cur.length > 0 && (bytes + n > maxBytes || cur.length >= maxCount)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += n;
  }
  if (cur.length) out.push(cur);
  return out;
}
