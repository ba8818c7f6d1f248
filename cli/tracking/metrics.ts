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
 *
 * Only what the server accepts is recorded (a finite value, a key of 1 to
 * MAX_KEY_CHARS characters): one point it refuses would stop every later push.
 * What is left out is named in `problems`, never dropped silently: Python's
 * json writes NaN and Infinity, and a diverged loss is worth a word.
 */
export const MAX_KEY_CHARS = 200;

export interface MetricsReading {
  points: MetricPoint[];
  /** what was not recorded, and why */
  problems: string[];
}

/** Numbers (and booleans, as 0/1) of a JSON or YAML value by dotted key; non-finite numbers go to `nonFinite`. */
export function flattenNumbers(value: unknown, prefix = '', out: Record<string, number> = {}, nonFinite: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number') (Number.isFinite(value) ? out : nonFinite)[prefix] = value;
  else if (typeof value === 'boolean') out[prefix] = value ? 1 : 0;
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenNumbers(v, prefix ? `${prefix}.${k}` : k, out, nonFinite);
  }
  return out;
}

/** Why the server would refuse a point, if it would. */
export function metricPointProblem(p: MetricPoint): string | undefined {
  if (p.key.length === 0) return 'has an empty name';
  if (p.key.length > MAX_KEY_CHARS) return `has a name longer than ${MAX_KEY_CHARS} characters`;
  if (!Number.isFinite(p.value)) return `is ${p.value}`;
  if (p.step !== null && !Number.isSafeInteger(p.step)) return `has step ${p.step}`;
  if (!Number.isFinite(p.time)) return `has time ${p.time}`;
  return undefined;
}

function collect(values: Record<string, number>, nonFinite: Record<string, number>, step: number | null, time: number, where: string, out: MetricsReading): void {
  for (const [key, value] of Object.entries({ ...values, ...nonFinite })) {
    if (key === 'step' || key === 'time') continue;
    const p = { key, value, step, time };
    const problem = metricPointProblem(p);
    if (problem) out.problems.push(`${key === '' ? 'a metric' : 'metric ' + JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)}${step !== null ? ` at step ${step}` : ''} ${problem} (${where}): not recorded`);
    else out.points.push(p);
  }
}

export function readMetricsFile(path: string, display: string, time: number): MetricsReading {
  if (!existsSync(path)) throw new DvxError('missing_metrics', `the stage did not write its metrics file ${display}`);
  const text = readFileSync(path, 'utf8');
  // JSON first: YAML would read the NaN and Infinity of Python's json as strings, and drop them unseen.
  let value: unknown;
  try {
    value = parseLenient(text);
  } catch {
    const doc = parseDocument(text);
    if (doc.errors.length) throw new DvxError('bad_metrics', `${display}: ${doc.errors[0]!.message}`);
    value = doc.toJS();
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new DvxError('bad_metrics', `${display} holds ${Array.isArray(value) ? 'a list' : value === null || value === undefined ? 'nothing' : `a ${typeof value}`}, not an object of named numbers`, `write its metrics by name, e.g. {"accuracy": 0.93}`);
  }
  const out: MetricsReading = { points: [], problems: [] };
  const nonFinite: Record<string, number> = {};
  collect(flattenNumbers(value, '', {}, nonFinite), nonFinite, null, time, display, out);
  return out;
}

/** JSON with the NaN, Infinity and -Infinity that Python's json module writes (outside strings). */
function parseLenient(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    const patched = line.replace(/"(?:[^"\\]|\\.)*"|-?\bInfinity\b|\bNaN\b/g, (m) => (m.startsWith('"') ? m : JSON.stringify(`\0${m}`)));
    if (patched === line) throw err;
    return JSON.parse(patched, (_k, v: unknown) => (typeof v === 'string' && v.startsWith('\0') ? Number(v.slice(1)) : v));
  }
}

export function readMetricsStream(path: string, fallbackTime: number): MetricsReading {
  const out: MetricsReading = { points: [], problems: [] };
  if (!existsSync(path)) return out;
  const lines = readFileSync(path, 'utf8').split('\n');
  const bad: number[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let obj: Record<string, unknown>;
    try {
      obj = parseLenient(line) as Record<string, unknown>;
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
    } catch {
      bad.push(i + 1);
      return;
    }
    const step = Number.isSafeInteger(obj.step) ? (obj.step as number) : null;
    const time = typeof obj.time === 'number' && Number.isFinite(obj.time * 1000) ? obj.time * 1000 : fallbackTime;
    const nonFinite: Record<string, number> = {};
    collect(flattenNumbers(obj, '', {}, nonFinite), nonFinite, step, time, `line ${i + 1} of $DVX_METRICS`, out);
  });
  if (bad.length) out.problems.push(`${bad.length === 1 ? `line ${bad[0]}` : `${bad.length} lines (${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', …' : ''})`} of $DVX_METRICS ${bad.length === 1 ? 'is' : 'are'} not a JSON object: not recorded`);
  return out;
}
