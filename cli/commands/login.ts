import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { DvxError } from '../../core/errors.ts';
import { forgetToken, saveToken } from '../remote/credentials.ts';
import { DvxRemote } from '../remote/dvx-remote.ts';
import { resolveRemote } from '../remote/resolve.ts';
import { info, printJson, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

interface LoginOptions extends OutputOptions {
  token?: string;
}

/** `dvx login <remote>`: checks a token against the server and stores it outside the repository. */
export async function run(remoteName: string | undefined, opts: LoginOptions): Promise<void> {
  const ws = Workspace.find();
  const { name, url } = resolveRemote(ws, remoteName);
  const token = (opts.token ?? (await readToken(`token for ${url.url}: `))).trim();
  if (!token) throw new DvxError('usage', 'no token given', 'pass --token, pipe it on stdin, or type it at the prompt');
  const remote = new DvxRemote(url, { token, remoteName: name, attempts: 2 });
  try {
    const repo = await remote.repoInfo();
    const path = saveToken(url.url, token);
    if (opts.json) printJson({ remote: name, url: url.url, repoExists: repo !== undefined, credentials: path });
    else info(opts, `logged in to ${url.url}${repo ? '' : ' (the repository does not exist yet: the first push creates it)'}\ntoken saved in ${path}`);
  } finally {
    remote.close();
  }
}

export async function logout(remoteName: string | undefined, opts: OutputOptions): Promise<void> {
  const ws = Workspace.find();
  const { url } = resolveRemote(ws, remoteName);
  info(opts, forgetToken(url.url) ? `forgot the token for ${url.url}` : `no token stored for ${url.url}`);
}

/** Reads a line from stdin: hidden when it is a terminal, plain when piped. */
async function readToken(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += chunk;
    return text.split('\n')[0] ?? '';
  }
  let muted = false;
  const out = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}
