import { createHash, randomBytes } from 'node:crypto';
import type { Scope } from '../../core/protocol.ts';
import type { Db } from './database.ts';

/**
 * API tokens: `dvx_` + 43 base64url characters (256 random bits). Only their
 * SHA-256 is stored, so a copy of the index gives no access; a token is shown
 * once, when created.
 */
export interface TokenRow {
  readonly id: number;
  readonly scope: Scope;
  /** a repository name, or '*' for all */
  readonly repo: string;
  readonly description: string;
  readonly created: number;
  readonly lastUsed: number | null;
  readonly revoked: number | null;
}

export const TOKEN_RE = /^dvx_[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function newToken(): string {
  return `dvx_${randomBytes(32).toString('base64url')}`;
}

/** last_used is written at most this often per token: a write per request would serialize reads. */
const TOUCH_EVERY_MS = 60_000;

export class TokenStore {
  private readonly s;
  private readonly touched = new Map<number, number>();

  constructor(db: Db) {
    const cols = 'tid AS id, scope, repo, description, created, last_used AS lastUsed, revoked';
    this.s = {
      insert: db.prepare('INSERT INTO tokens (hash, scope, repo, description, created) VALUES (?, ?, ?, ?, ?) RETURNING tid').pluck(),
      byHash: db.prepare(`SELECT ${cols} FROM tokens WHERE hash = ?`),
      byId: db.prepare(`SELECT ${cols} FROM tokens WHERE tid = ?`),
      list: db.prepare(`SELECT ${cols} FROM tokens ORDER BY tid`),
      revoke: db.prepare('UPDATE tokens SET revoked = ? WHERE tid = ? AND revoked IS NULL'),
      touch: db.prepare('UPDATE tokens SET last_used = ? WHERE tid = ?'),
      anyAdmin: db.prepare("SELECT 1 FROM tokens WHERE scope = 'admin' AND repo = '*' AND revoked IS NULL LIMIT 1").pluck(),
    };
  }

  create(opts: { scope: Scope; repo: string; description?: string }, now = Date.now()): { token: string; row: TokenRow } {
    const token = newToken();
    const id = this.s.insert.get(hashToken(token), opts.scope, opts.repo, opts.description ?? '', now) as number;
    return { token, row: this.byId(id)! };
  }

  /** The token's row if it exists (revoked or not). */
  lookup(token: string): TokenRow | undefined {
    if (!TOKEN_RE.test(token)) return undefined;
    return this.s.byHash.get(hashToken(token)) as TokenRow | undefined;
  }

  byId(id: number): TokenRow | undefined {
    return this.s.byId.get(id) as TokenRow | undefined;
  }

  list(): TokenRow[] {
    return this.s.list.all() as TokenRow[];
  }

  revoke(id: number, now = Date.now()): boolean {
    return this.s.revoke.run(now, id).changes > 0;
  }

  touch(id: number, now = Date.now()): void {
    const last = this.touched.get(id) ?? 0;
    if (now - last < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    try {
      this.s.touch.run(now, id);
    } catch {
      // A busy database must not fail a request over bookkeeping.
    }
  }

  hasAdmin(): boolean {
    return this.s.anyAdmin.get() !== undefined;
  }
}
