import { existsSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { DvxError } from '../../core/errors.ts';
import type { MetricPoint } from './store.ts';

/**
 * Metrics of a stage run come from two places:
 * - its `metrics` files: JSON or YAML objects of numbers (nested keys are
 *   joined with "."), read once after the run;
 * - the JSON-lines file named by DVX_METRICS, which the command may append to
 *   while it runs, one object per line: numeric fields are metrics, "step"
 *   (integer) and "time" (seconds since the epoch) are optional.
 *   `{"step": 3, "loss": 0.21, "accuracy": 0.91}`
 */
export function flattenNumbers(value: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number' && Number.isFinite(value)) out[prefix] = value;
  else if (typeof value === 'boolean') out[prefix] = value ? 1 : 0;
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenNumbers(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

export function readMetricsFile(path: string, display: string, time: number): MetricPoint[] {
  if (!existsSync(path)) throw new DvxError('missing_metrics', `the stage did not write its metrics file ${display}`);
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (doc.errors.length) throw new DvxError('bad_metrics', `${display}: ${doc.errors[0]!.message}`);
  return Object.entries(flattenNumbers(doc.toJS())).map(([key, value]) => ({ key, value, step: null, time }));
}

export function readMetricsStream(path: string, fallbackTime: number): { points: MetricPoint[]; badLines: number } {
  if (!existsSync(path)) return { points: [], badLines: 0 };
  const points: MetricPoint[] = [];
  let badLines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
    } catch {
      badLines++;
      continue;
    }
    const step = Number.isInteger(obj.step) ? (obj.step as number) : null;
    const time = typeof obj.time === 'number' ? obj.time * 1000 : fallbackTime;
    for (const [key, value] of Object.entries(flattenNumbers(obj))) {
      if (key === 'step' || key === 'time') continue;
      points.push({ key, value, step, time });
    }
  }
  return { points, badLines };
}
