import { createWriteStream } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DvxError } from '../../core/errors.ts';
import { plural } from '../ui.ts';

/**
 * HTTP to a dvx server: bearer auth, keep-alive, and retries with exponential
 * backoff and jitter for what may succeed on a second try (connection resets and
 * refusals, timeouts, 408, 429, 5xx; Retry-After honoured). Other 4xx answers
 * are final and become DvxErrors carrying the server's message.
 *
 * Request bodies are bytes or a factory of streams, so a retry can send the
 * body again without holding it in memory.
 */
export type Body = Uint8Array | (() => AsyncIterable<Uint8Array> | Readable);

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** absolute path under the server base, starting with '/' */
  path: string;
  headers?: Record<string, string>;
  body?: Body;
  contentType?: string;
  contentLength?: number;
  /** where the response body goes (default: a Buffer) */
  toFile?: string;
  /** append to toFile instead of replacing it (resumed downloads) */
  appendToFile?: boolean;
  /**
   * or into this stream (ended with the body). Bytes written to a stream cannot
   * be taken back, so a transfer that breaks is not retried: it fails.
   */
  toStream?: Writable;
  /** statuses that are answers rather than errors (default: 2xx) */
  accept?: number[];
  onSent?: (bytes: number) => void;
  onReceived?: (bytes: number) => void;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ClientOptions {
  token?: string;
  /** attempts per request, including the first (default 6, DVX_HTTP_ATTEMPTS) */
  attempts?: number;
  /** socket idle timeout (default 120 s) */
  timeoutMs?: number;
  maxSockets?: number;
  /** shown in auth errors: how the user names this remote */
  remoteName?: string;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

class RetryableError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

export class HttpClient {
  readonly base: URL;
  private readonly agent: http.Agent;
  private readonly attempts: number;
  private readonly timeoutMs: number;
  /** requests sent, retries included (benchmarks count them) */
  requests = 0;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(base: string, private readonly opts: ClientOptions = {}) {
    this.base = new URL(base.endsWith('/') ? base : base + '/');
    const Agent = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 8 });
    this.attempts = opts.attempts ?? (Number(process.env.DVX_HTTP_ATTEMPTS) || 6);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  close(): void {
    this.agent.destroy();
  }

  async request(spec: RequestSpec): Promise<Response> {
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        return await this.once(spec);
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        lastError = err;
        if (attempt === this.attempts) break;
        const backoff = Math.min(10_000, 250 * 2 ** (attempt - 1));
        await sleep(err.retryAfterMs ?? backoff / 2 + Math.random() * backoff);
      }
    }
    throw new DvxError('remote_unavailable', `${spec.method} ${this.describe(spec.path)} failed after ${plural(this.attempts, 'attempt')}: ${lastError?.message}`, 'check that the server is running and reachable, then run the command again: nothing already sent is sent twice');
  }

  /** JSON request/response helper. */
  async json<T>(method: RequestSpec['method'], path: string, body?: unknown, accept?: number[]): Promise<{ status: number; data: T }> {
    const res = await this.request({
      method,
      path,
      ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' }),
      headers: { accept: 'application/json' },
      accept,
    });
    return { status: res.status, data: (res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined) as T };
  }

  private describe(path: string): string {
    return new URL(path.replace(/^\//, ''), this.base).href;
  }

  private once(spec: RequestSpec): Promise<Response> {
    const url = new URL(spec.path.replace(/^\//, ''), this.base);
    const headers: Record<string, string> = { 'user-agent': 'dvx', ...spec.headers };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (spec.contentType) headers['content-type'] = spec.contentType;
    const bodyBytes = spec.body instanceof Uint8Array ? spec.body : undefined;
    const length = bodyBytes ? bodyBytes.length : spec.contentLength;
    if (length !== undefined) headers['content-length'] = String(length);
    else if (spec.body) headers['transfer-encoding'] = 'chunked';
    this.requests++;
    const mod = url.protocol === 'https:' ? https : http;

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const req = mod.request(url, { method: spec.method, headers, agent: this.agent, timeout: this.timeoutMs });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no response within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => fail(RETRY_CODES.has(err.code ?? '') || /socket hang up/.test(err.message) ? new RetryableError(err.message) : err));
      req.on('response', (res) => {
        this.receive(res, spec).then(
          (r) => {
            settled = true;
            resolve(r);
          },
          fail,
        );
      });
      if (!spec.body) {
        req.end();
        return;
      }
      const source = bodyBytes ? Readable.from([bodyBytes]) : Readable.from(spec.body instanceof Uint8Array ? [spec.body] : (spec.body as () => AsyncIterable<Uint8Array>)());
      let sent = 0;
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, cb) => {
          sent += chunk.length;
          this.bytesSent += chunk.length;
          spec.onSent?.(sent);
          cb(null, chunk);
        },
      });
      pipeline(source, counter, req).catch((err: NodeJS.ErrnoException) => {
        // The server may answer (e.g. 413) and close before the body is sent: the response handler decides.
        if (!req.writableFinished && !req.destroyed) req.destroy(err);
        if (RETRY_CODES.has(err.code ?? '')) fail(new RetryableError(err.message));
      });
    });
  }

  private async receive(res: IncomingMessage, spec: RequestSpec): Promise<Response> {
    const status = res.statusCode ?? 0;
    const accepted = spec.accept ? spec.accept.includes(status) : status >= 200 && status < 300;
    if (accepted && (spec.toFile || spec.toStream)) {
      let got = 0;
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, cb) => {
          got += chunk.length;
          this.bytesReceived += chunk.length;
          spec.onReceived?.(got);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res, counter, spec.toStream ?? createWriteStream(spec.toFile!, { flags: spec.appendToFile ? 'a' : 'w' }));
      } catch (err) {
        if (spec.toStream) throw streamBroken(`the download broke after ${got} bytes: ${(err as Error).message}`);
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (RETRY_CODES.has(code) || /aborted|premature/i.test((err as Error).message)) throw new RetryableError(`download interrupted: ${(err as Error).message}`);
        throw err;
      }
      const expected = Number(res.headers['content-length']);
      if (Number.isFinite(expected) && got !== expected) {
        if (spec.toStream) throw streamBroken(`the download ended after ${got} of ${expected} bytes`);
        throw new RetryableError(`download ended after ${got} of ${expected} bytes`);
      }
      return { status, headers: res.headers, body: Buffer.alloc(0) };
    }
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) {
        chunks.push(c as Buffer);
        this.bytesReceived += (c as Buffer).length;
      }
    } catch (err) {
      throw new RetryableError(`response interrupted: ${(err as Error).message}`);
    }
    const body = Buffer.concat(chunks);
    if (accepted) return { status, headers: res.headers, body };
    if (RETRY_STATUS.has(status)) {
      const after = Number(res.headers['retry-after']);
      throw new RetryableError(`server answered ${status}${serverMessage(body)}`, Number.isFinite(after) ? Math.min(after, 30) * 1000 : undefined);
    }
    throw this.httpError(status, body, spec);
  }

  private httpError(status: number, body: Buffer, spec: RequestSpec): DvxError {
    const message = serverMessage(body);
    const where = `${spec.method} ${this.describe(spec.path)}`;
    const remote = this.opts.remoteName ?? '<remote>';
    let code = 'http_error';
    try {
      code = (JSON.parse(body.toString('utf8')) as { error: { code: string } }).error.code ?? code;
    } catch {
      // not a dvx error body
    }
    switch (status) {
      case 401:
        return new DvxError('unauthorized', `the server rejected the credentials for ${this.base.href}${message}`, `run \`dvx login ${remote}\`, or set DVX_TOKEN`);
      case 403:
        return new DvxError('forbidden', `the token is not allowed to do this (${where})${message}`, 'ask the server admin for a token with the right scope for this repository');
      default:
        return new DvxError(code, `${where} answered ${status}${message}`);
    }
  }
}

/** A download into a stream cannot be resumed: what went out is out. */
function streamBroken(message: string): DvxError {
  return new DvxError('download_interrupted', message, 'what was written is incomplete; run the command again, or download to a file (-o FILE), which resumes');
}

/** The message of a dvx error body (docs/protocol.md "Errors"), if the body is one. */
export function errorBodyMessage(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { error?: { message?: string } }).error?.message || undefined;
  } catch {
    return undefined;
  }
}

function serverMessage(body: Buffer): string {
  const message = errorBodyMessage(body);
  if (message) return `: ${message}`;
  const text = body.toString('utf8', 0, Math.min(body.length, 200)).trim();
  return text ? `: ${text}` : '';
}
