/**
 * The token lives in sessionStorage only (gone when the tab closes) and is
 * sent as an Authorization header by api.ts. There is no cookie, so a request
 * that another site makes the browser send carries no credential.
 */
const KEY = 'dvx.token';

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(t: string): void {
  sessionStorage.setItem(KEY, t);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}
