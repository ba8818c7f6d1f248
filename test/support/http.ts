import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/**
 * A raw HTTP client for tests: full control over headers (a missing or wrong
 * Content-Length, chunked bodies, odd paths sent exactly as written), which
 * fetch() does not give.
 */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json(): any;
  text(): string;
}

export interface RequestOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** send the body chunked, without Content-Length */
  chunked?: boolean;
}

export function request(base: string, path: string, opts: RequestOptions = {}): Promise<Answer> {
  const url = new URL(base);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  if (body && !opts.chunked && headers['content-length'] === undefined) headers['content-length'] = body.length;
  if (opts.chunked) headers['transfer-encoding'] = 'chunked';
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: opts.method ?? 'GET', path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const b = Buffer.concat(parts);
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: b,
          text: () => b.toString('utf8'),
          json: () => {
            try {
              return JSON.parse(b.toString('utf8'));
            } catch {
              throw new Error(`not JSON (status ${res.statusCode}): ${b.toString('utf8').slice(0, 300)}`);
            }
          },
        });
      });
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

/** Asserts the JSON error shape every error answer must have, and returns its code. */
export function errorCode(a: Answer): string {
  const j = a.json();
  if (typeof j?.error?.code !== 'string' || typeof j?.error?.message !== 'string') throw new Error(`not an error body: ${a.text().slice(0, 300)}`);
  return j.error.code;
}
