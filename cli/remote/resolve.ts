import { DvxError } from '../../core/errors.ts';
import { missingDefaultRemote } from '../workspace/config.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { tokenFor } from './credentials.ts';
import { DvxRemote } from './dvx-remote.ts';
import { parseRemoteUrl, type RemoteUrl } from './remote-url.ts';

/**
 * Which remote a command talks to: the one named with --remote (a configured
 * name, or a URL), else the default remote, else the only one configured.
 */
export function resolveRemote(ws: Workspace, name?: string): { name: string; url: RemoteUrl } {
  const remotes = ws.config.remotes ?? {};
  if (name) {
    if (remotes[name]) return { name, url: parseRemoteUrl(remotes[name].url) };
    if (/^https?:\/\//.test(name)) return { name, url: parseRemoteUrl(name) };
    throw new DvxError('no_such_remote', `no remote named ${JSON.stringify(name)}`, `see \`dvx remote list\`; add one with \`dvx remote add ${name} <url>\``);
  }
  const chosen = ws.config.default_remote ?? (Object.keys(remotes).length === 1 ? Object.keys(remotes)[0] : undefined);
  if (!chosen) {
    throw new DvxError(
      'no_remote',
      Object.keys(remotes).length === 0 ? 'no dvx remote is configured' : `several remotes are configured (${Object.keys(remotes).join(', ')}) and none is the default`,
      Object.keys(remotes).length === 0 ? 'add one: `dvx remote add --default origin http://<server>:8080/<repo>`' : 'pick one with --remote, or set one with `dvx remote default <name>`',
    );
  }
  if (missingDefaultRemote(ws.config)) {
    throw new DvxError('no_such_remote', `the default remote is ${JSON.stringify(chosen)}, but no remote of that name is configured`, `pick another with \`dvx remote default <name>\` (see \`dvx remote list\`), or add it with \`dvx remote add ${chosen} <url>\``);
  }
  return { name: chosen, url: parseRemoteUrl(remotes[chosen]!.url) };
}

export function openRemote(ws: Workspace, name?: string, opts: { jobs?: number } = {}): DvxRemote {
  const r = resolveRemote(ws, name);
  return new DvxRemote(r.url, { token: tokenFor(r.url.url), remoteName: r.name, maxSockets: Math.max(4, opts.jobs ?? 4) });
}
