import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { writeFileAtomic } from '../fs-util.ts';

/**
 * Tokens per remote URL, stored outside any repository so they are never
 * committed: $XDG_CONFIG_HOME/dvx/credentials.json (default ~/.config), mode
 * 0600. DVX_TOKEN, when set, wins over everything stored.
 */
export function credentialsPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'dvx', 'credentials.json');
}

type Store = Record<string, { token: string; savedAt: string }>;

function load(): Store {
  const path = credentialsPath();
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Store) : {};
  } catch (err) {
    throw new DvxError('bad_credentials', `${path} is not valid JSON: ${(err as Error).message}`, `fix or delete it, then run \`dvx login\` again`);
  }
}

export function tokenFor(remoteUrl: string): string | undefined {
  if (process.env.DVX_TOKEN) return process.env.DVX_TOKEN;
  return load()[remoteUrl]?.token;
}

export function saveToken(remoteUrl: string, token: string): string {
  const path = credentialsPath();
  const store = load();
  store[remoteUrl] = { token, savedAt: new Date().toISOString() };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, JSON.stringify(store, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function forgetToken(remoteUrl: string): boolean {
  const store = load();
  if (!store[remoteUrl]) return false;
  delete store[remoteUrl];
  writeFileAtomic(credentialsPath(), JSON.stringify(store, null, 2) + '\n', { mode: 0o600 });
  return true;
}
