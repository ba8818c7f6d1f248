/** Medians and the Markdown that shows them. */

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(xs: number[]): Summary | undefined {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return undefined;
  return { n: ok.length, median: median(ok), min: Math.min(...ok), max: Math.max(...ok) };
}

const MB = 1e6;
export const MiB = 1 << 20;
export const KiB = 1 << 10;

export function fmtNum(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toFixed(digits);
}

/** "1.23 (1.10–1.40)": median and range of a summary, scaled; just the value when the range is nil at that precision. */
export function fmtSummary(s: Summary | undefined, digits = 2, scale = 1): string {
  if (!s) return 'n/a';
  const f = (x: number) => (x * scale).toFixed(digits);
  return s.n > 1 && f(s.min) !== f(s.max) ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

/** Throughput in MB/s (10^6 bytes per second). */
export function mbps(bytes: number, seconds: number): number {
  return bytes / MB / seconds;
}

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 1 : 2)} ${units[u]}`;
}

/** Exact bytes with thousands separators, for tables where the last digits matter. */
export function fmtInt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

export function table(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [`| ${header.map(esc).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}

/** "1 GiB", "256 MiB": a power-of-two size in words. */
export function sizeText(bytes: number): string {
  return bytes >= 2 ** 30 && bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** A ratio summary with its "x", or n/a. */
export function fmtRatio(s: Summary | undefined, digits = 2): string {
  return s ? `${fmtSummary(s, digits)}x` : 'n/a';
}
