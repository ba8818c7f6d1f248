import type { Request } from 'express';
import { HttpError } from './http-error.ts';

/**
 * Query-string parameters, checked before use. The app parses queries with
 * Node's querystring ("simple"): a repeated name arrives as an array.
 */
function values(req: Request, name: string): string[] {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

/** A parameter given at most once. */
export function oneQuery(req: Request, name: string): string | undefined {
  const v = values(req, name);
  if (v.length > 1) throw new HttpError(400, 'bad_query', `${name} is given ${v.length} times: give it once`);
  return v[0];
}

/** A repeatable parameter. */
export function manyQuery(req: Request, name: string): string[] {
  return values(req, name);
}

export function intQuery(req: Request, name: string, o: { min: number; max: number; default: number }): number {
  const v = oneQuery(req, name);
  if (v === undefined) return o.default;
  if (!/^\d{1,10}$/.test(v) || Number(v) < o.min || Number(v) > o.max) {
    throw new HttpError(400, 'bad_query', `${name}=${JSON.stringify(v.slice(0, 40))}: expected an integer from ${o.min} to ${o.max}`);
  }
  return Number(v);
}

/** Refuses parameters the route does not know, so that a typo is not silently ignored. */
export function onlyQueries(req: Request, known: readonly string[]): void {
  for (const name of Object.keys(req.query as object)) {
    if (!known.includes(name)) {
      throw new HttpError(400, 'bad_query', `unknown query parameter ${JSON.stringify(name.slice(0, 80))}${known.length ? `: this route takes ${known.join(', ')}` : ': this route takes none'}`);
    }
  }
}
