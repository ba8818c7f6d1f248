import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DvxError } from '../../core/errors.ts';
import { pathProblem } from '../../core/paths.ts';
import { API_PREFIX } from '../../core/protocol.ts';
import { assertRepoName } from '../../core/repo-name.ts';
import { tokenFor } from '../remote/credentials.ts';
import { parseRemoteUrl, type RemoteUrl } from '../remote/remote-url.ts';
import { errorBodyMessage, HttpClient, type Response } from '../remote/http-client.ts';
import { removeStaleTemps, tempPathBeside } from '../fs-util.ts';
import { formatBytes, info, plural, printJson, Progress, shellWord, type OutputOptions } from '../ui.ts';

interface GetOptions extends OutputOptions {
  rev?: string;
  output?: string;
  force?: boolean;
}

/**
 * `dvx get <server> <repo> <path>`: download one dataset version over plain
 * HTTP, without a clone. Files are verified against their sha256 (the ETag)
 * and resumed with Range requests when a transfer breaks; directories arrive
 * as a tar stream and are unpacked.
 */
export async function run(server: string, repo: string, path: string, opts: GetOptions): Promise<void> {
  assertRepoName(repo);
  const problem = pathProblem(path.replace(/^\/+|\/+$/g, ''));
  if (problem) throw new DvxError('bad_path', `${path}: path ${problem}`);
  const clean = path.replace(/^\/+|\/+$/g, '');
  // The server and repository together are a remote URL: the same checks (http(s), no credentials in it).
  let remote: RemoteUrl;
  try {
    remote = parseRemoteUrl(`${server.replace(/\/+$/, '')}/${encodeURIComponent(repo)}`);
  } catch (err) {
    if (err instanceof DvxError && err.code === 'bad_remote_url') {
      const message = err.message.replace(`/${encodeURIComponent(repo)}`, '');
      throw new DvxError('bad_remote_url', message, /is not a URL/.test(message) ? 'give the server URL, e.g. http://localhost:8080, then the repository name' : err.hint);
    }
    throw err;
  }
  // HEAD: the server's default branch, as `git clone` checks out the remote's HEAD.
  const rev = opts.rev ?? 'HEAD';
  checkRev(rev);
  const http = new HttpClient(remote.base, { token: tokenFor(remote.url), remoteName: remote.url });
  const urlPath = `${API_PREFIX}/repos/${encodeURIComponent(repo)}/files/${encodeURIComponent(rev)}/${clean.split('/').map(encodeURIComponent).join('/')}`;
  try {
    const head = await headOrExplain(http, urlPath, `${clean}@${rev}`, repo);
    const isDir = String(head.headers['content-type'] ?? '').startsWith('application/json');
    if (isDir && opts.output === '-') {
      throw new DvxError('dir_to_stdout', `${clean}@${rev} is a directory: it cannot be written to standard output`, `give -o the folder to unpack it into, or get one of its files to standard output (\`dvx get … ${clean}/<file> -o -\`)`);
    }
    const size = Number(head.headers['content-length']);
    const sha = String(head.headers.etag ?? '').replace(/^W\//, '').replace(/"/g, '');
    if (opts.output === '-' && !isDir) {
      await getToStdout(http, urlPath, sha);
      return;
    }
    const out = outputPath(clean, isDir, opts);
    // what an earlier, killed download left beside the output (its writer's pid is gone)
    removeStaleTemps(dirname(out));
    if (isDir) {
      const n = await getDir(http, `${urlPath}?format=tar`, out);
      if (opts.json) printJson({ path: clean, rev, type: 'dir', output: out, files: n });
      else info(opts, `downloaded ${clean}@${rev} (${plural(n, 'file')}) into ${out}`);
      return;
    }
    await getFile(http, urlPath, out, size, sha, opts);
    if (opts.json) printJson({ path: clean, rev, type: 'file', output: out, size, sha256: sha });
    else info(opts, `downloaded ${clean}@${rev} (${formatBytes(size)}, sha256 ${sha.slice(0, 12)}) to ${out}`);
  } finally {
    http.close();
  }
}

/**
 * The server resolves names, not git's revision expressions (main~1, HEAD^,
 * v1:path): say so before asking it, with the forms it takes.
 */
function checkRev(rev: string): void {
  if (!/[\0-\x20\x7f~^:?*[\\]|@\{|\.\./.test(rev)) return;
  throw new DvxError(
    'bad_revision',
    `--rev ${JSON.stringify(rev)}: the server takes a branch, a tag, a commit sha (full or abbreviated) or a content sha256, not a revision expression such as main~1, HEAD^ or main@{1}`,
    'in a clone, `git rev-parse <expression>` gives the commit sha to pass',
  );
}

/**
 * Where the download goes, and whether it may: `-o` names the file, or an
 * existing folder to put the file in under its own name (as cp does); for a
 * directory, the folder to unpack into, which must not exist or be empty.
 * Without -o, it is the data's own name here. Nothing that exists is replaced
 * without --force, and never a folder by a file or a file by a folder.
 */
function outputPath(path: string, isDir: boolean, opts: GetOptions): string {
  const name = basename(path);
  let out = resolve(opts.output ?? name);
  if (!isDir && opts.output !== undefined && (opts.output.endsWith('/') || kindOf(out) === 'dir')) out = join(out, name);
  const kind = kindOf(out);
  if (kind === undefined) return out;
  if (isDir && kind === 'file') throw new DvxError('exists', `${out} is a file: the directory ${path} cannot be unpacked there`, 'give -o the path of a new folder');
  if (!isDir && kind === 'dir') throw new DvxError('exists', `${out} is a folder: the file ${path} cannot be written there`, 'give -o the path of the file to write');
  if (isDir && kind === 'dir' && readdirSync(out).length === 0) return out;
  if (!opts.force) throw new DvxError('exists', `${out} exists`, `add --force to replace it, or give -o another path`);
  return out;
}

function kindOf(path: string): 'file' | 'dir' | undefined {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

async function getFile(http: HttpClient, urlPath: string, out: string, size: number, sha: string, opts: OutputOptions): Promise<void> {
  mkdirSync(dirname(out), { recursive: true });
  const tmp = tempPathBeside(out);
  const progress = new Progress('downloading', size, opts);
  try {
    writeFileSync(tmp, '');
    for (let attempt = 0; ; attempt++) {
      const have = statSync(tmp).size;
      if (have >= size) break;
      try {
        // Resume where the previous attempt stopped; If-Range restarts if the file changed meanwhile.
        const res = await http.request({
          method: 'GET',
          path: urlPath,
          headers: have > 0 ? { range: `bytes=${have}-`, 'if-range': `"${sha}"` } : {},
          toFile: tmp,
          appendToFile: have > 0,
          accept: [200, 206],
          onReceived: (n) => progress.update(have + n),
        });
        if (res.status === 200 && have > 0) throw new DvxError('changed_on_server', 'the file changed on the server during the download', 'run the command again');
      } catch (err) {
        if (attempt >= 5 || !(err instanceof DvxError) || err.code !== 'remote_unavailable') throw err;
      }
    }
    const digest = createHash('sha256');
    await pipeline(createReadStream(tmp), digest);
    const got = digest.digest('hex');
    if (/^[0-9a-f]{64}$/.test(sha) && got !== sha) throw new DvxError('bad_download', `the downloaded bytes hash to ${got}, not ${sha}`, 'run the command again');
    renameSync(tmp, out);
  } finally {
    progress.stop();
    rmSync(tmp, { force: true });
  }
}

/**
 * HEAD says whether the path is a file or a directory, but a refusal to a HEAD
 * has no body: on a 4xx the same URL is asked with GET (one byte of it at
 * most), so the error names what the server did not find.
 */
async function headOrExplain(http: HttpClient, urlPath: string, what: string, repo: string): Promise<Response> {
  try {
    return await http.request({ method: 'HEAD', path: urlPath });
  } catch (err) {
    if (!(err instanceof DvxError) || err.code !== 'http_error') throw err;
    const again = await http.request({ method: 'GET', path: urlPath, headers: { range: 'bytes=0-0' }, accept: [400, 404, 410] }).catch(() => undefined);
    const message = again ? errorBodyMessage(again.body) : undefined;
    if (!again || !message) throw err;
    // The server cannot tell which of several branches HEAD means (none is main or master): it names them.
    const branches = /HEAD is the default branch.*\(([^)]*)\): name one/.exec(message)?.[1]?.split(', ');
    if (again.status === 404 && branches?.[0]) throw new DvxError('not_found', `${what}: ${message}`, `name the branch with --rev, e.g. \`--rev ${shellWord(branches[0])}\``);
    throw new DvxError(again.status === 404 ? 'not_found' : 'bad_request', `${what}: ${message}`, again.status === 404 ? `check the path, the revision and the repository (${repo}); \`GET /api/v1/repos/${repo}/datasets?ref=<rev>\` lists what a revision tracks` : undefined);
  }
}

/**
 * To standard output, whatever it is (a pipe, a socket from a parent process, a
 * file), hashing on the way: a mismatch cannot take the bytes back, but it
 * fails the command, so `dvx get … -o - > f && use f` never uses bad data.
 */
async function getToStdout(http: HttpClient, urlPath: string, sha: string): Promise<void> {
  const digest = createHash('sha256');
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) {
      digest.update(chunk);
      if (process.stdout.write(chunk)) done();
      else process.stdout.once('drain', () => done());
    },
  });
  await http.request({ method: 'GET', path: urlPath, toStream: stdout });
  const got = digest.digest('hex');
  if (/^[0-9a-f]{64}$/.test(sha) && got !== sha) throw new DvxError('bad_download', `the downloaded bytes hash to ${got}, not ${sha}`, 'what was written is not that version; run the command again');
}

/**
 * Unpacked into a temp folder beside `out`, then renamed into place: a failed
 * download leaves nothing. An `out` that exists (outputPath let only an empty
 * folder or a --force through) is swapped for the new one.
 */
async function getDir(http: HttpClient, urlPath: string, out: string): Promise<number> {
  mkdirSync(dirname(out), { recursive: true });
  const tmpTar = tempPathBeside(out + '.tar');
  const tmpDir = tempPathBeside(out);
  try {
    await http.request({ method: 'GET', path: urlPath, toFile: tmpTar });
    mkdirSync(tmpDir);
    const files = await unpack(tmpTar, tmpDir);
    if (existsSync(out)) {
      const old = tempPathBeside(out);
      renameSync(out, old);
      renameSync(tmpDir, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmpDir, out);
    }
    return files;
  } finally {
    rmSync(tmpTar, { force: true });
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

async function unpack(tarPath: string, out: string): Promise<number> {
  const extract = tar.extract();
  let files = 0;
  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
    if (header.type === 'directory') {
      stream.resume();
      return next();
    }
    const problem = pathProblem(name);
    if (header.type !== 'file' || problem) {
      stream.resume();
      return next(new DvxError('bad_download', `the server's tar holds an entry dvx will not write: ${JSON.stringify(header.name)} (${header.type}${problem ? `, path ${problem}` : ''})`));
    }
    const dest = join(out, ...name.split('/'));
    mkdirSync(dirname(dest), { recursive: true });
    pipeline(stream, createWriteStream(dest)).then(() => {
      if (header.mode && header.mode & 0o111) chmodSync(dest, 0o755);
      files++;
      next();
    }, next);
  });
  await pipeline(createReadStream(tarPath), extract);
  return files;
}

