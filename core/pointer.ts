import { FormatError } from './errors.ts';
import { isId } from './hex.ts';
import { pathProblem } from './paths.ts';

/**
 * Pointer file, format version 1: the sidecar `<path>.dvx` committed to git in
 * place of the data. Exactly this text, keys in this order, '\n' line ends:
 *
 *   # dvx pointer: commit this file, not the data
 *   dvx: 1
 *   path: customers.csv
 *   type: file            (or: dir)
 *   size: 176000000       (bytes; for a dir, of all its files)
 *   files: 3              (dir only: how many files)
 *   sha256: <64 hex>      (file: of its content; dir: of its tree manifest)
 *   manifest: <64 hex>    (file manifest id, or tree manifest id for a dir)
 *
 * `path` is the data's name relative to the pointer's directory (one segment).
 * It is written bare when YAML would read it back as the same string, else as
 * a JSON string literal (which YAML reads as well). Decoding re-encodes and
 * compares, so there is one valid encoding; anything else is reported with
 * the line that differs.
 */
export const POINTER_SUFFIX = '.dvx';
const HEADER = '# dvx pointer: commit this file, not the data';
const WHAT = 'pointer file';
const MAX_POINTER_BYTES = 8192;
// One decoder for every call: making one costs more than decoding a pointer (pre-push decodes thousands).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface Pointer {
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  /** dirs only */
  readonly files?: number;
  readonly sha256: string;
  readonly manifest: string;
}

const BARE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
// YAML 1.2 core-schema plain scalars that are not strings.
const YAML_NON_STRING = /^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

function encodeName(name: string): string {
  return BARE.test(name) && !YAML_NON_STRING.test(name) ? name : JSON.stringify(name);
}

function checkPointer(p: Pointer): void {
  const problem = pathProblem(p.path);
  if (problem) throw new FormatError(WHAT, `path ${JSON.stringify(p.path)} ${problem}`);
  if (p.path.includes('/')) throw new FormatError(WHAT, `path ${JSON.stringify(p.path)} must be a single name, relative to the pointer's directory`);
  if (p.type !== 'file' && p.type !== 'dir') throw new FormatError(WHAT, `type must be file or dir, not ${JSON.stringify(p.type)}`);
  if (!Number.isSafeInteger(p.size) || p.size < 0) throw new FormatError(WHAT, `size ${p.size} is not a byte count`);
  if (p.type === 'dir') {
    if (!Number.isSafeInteger(p.files) || p.files! < 0) throw new FormatError(WHAT, 'a dir pointer needs a file count');
  } else if (p.files !== undefined) {
    throw new FormatError(WHAT, 'only a dir pointer has a file count');
  }
  if (!isId(p.sha256)) throw new FormatError(WHAT, 'sha256 must be 64 lowercase hex digits');
  if (!isId(p.manifest)) throw new FormatError(WHAT, 'manifest must be 64 lowercase hex digits');
}

export function encodePointer(p: Pointer): string {
  checkPointer(p);
  const lines = [HEADER, 'dvx: 1', `path: ${encodeName(p.path)}`, `type: ${p.type}`, `size: ${p.size}`];
  if (p.type === 'dir') lines.push(`files: ${p.files}`);
  lines.push(`sha256: ${p.sha256}`, `manifest: ${p.manifest}`);
  return lines.join('\n') + '\n';
}

function parseCount(value: string | undefined, key: string): number {
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value)) throw new FormatError(WHAT, `${key} must be a whole number, got ${JSON.stringify(value ?? '')}`);
  return Number(value);
}

export function decodePointer(text: string | Uint8Array): Pointer {
  if (typeof text !== 'string') {
    if (text.length > MAX_POINTER_BYTES) throw new FormatError(WHAT, `${text.length} bytes is too large for a pointer (is this the data itself?)`);
    try {
      // Lossy decoding would map bad bytes to U+FFFD and accept a second encoding.
      text = UTF8.decode(text);
    } catch {
      throw new FormatError(WHAT, 'is not valid UTF-8 text');
    }
  }
  if (text.length > MAX_POINTER_BYTES) throw new FormatError(WHAT, 'too large for a pointer (is this the data itself?)');
  if (text.includes('\r')) throw new FormatError(WHAT, 'has CR line endings (set `* .dvx -text` in .gitattributes)');
  if (!text.endsWith('\n')) throw new FormatError(WHAT, 'is truncated (no final newline)');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== HEADER) throw new FormatError(WHAT, `first line must be ${JSON.stringify(HEADER)}`);
  const fields = new Map<string, string>();
  for (const [i, line] of lines.slice(1).entries()) {
    const m = /^([a-z0-9]+): (.*)$/.exec(line);
    if (!m) throw new FormatError(WHAT, `line ${i + 2} is not "key: value": ${JSON.stringify(line.slice(0, 100))}`);
    if (fields.has(m[1]!)) throw new FormatError(WHAT, `duplicate key ${m[1]}`);
    fields.set(m[1]!, m[2]!);
  }
  const version = fields.get('dvx');
  if (version !== '1') throw new FormatError(WHAT, version === undefined ? 'missing "dvx: 1"' : `unsupported version ${JSON.stringify(version)} (upgrade dvx)`);
  for (const key of ['path', 'type', 'size', 'sha256', 'manifest']) {
    if (!fields.has(key)) throw new FormatError(WHAT, `missing ${key} (the file is truncated or hand-edited)`);
  }
  let path = fields.get('path')!;
  if (path.startsWith('"')) {
    try {
      path = JSON.parse(path) as string;
    } catch {
      throw new FormatError(WHAT, `path is not a valid quoted string: ${path.slice(0, 100)}`);
    }
    if (typeof path !== 'string') throw new FormatError(WHAT, 'path must be a string');
  }
  const type = fields.get('type') as Pointer['type'];
  const p: Pointer = {
    path,
    type,
    size: parseCount(fields.get('size'), 'size'),
    ...(type === 'dir' ? { files: parseCount(fields.get('files'), 'files') } : {}),
    sha256: fields.get('sha256')!,
    manifest: fields.get('manifest')!,
  };
  checkPointer(p);
  const canonical = encodePointer(p);
  if (canonical !== text) {
    const want = canonical.split('\n');
    const at = lines.findIndex((l, i) => l !== want[i]);
    throw new FormatError(WHAT, `not in canonical form at line ${at + 1} (expected ${JSON.stringify(want[at] ?? '')}); rewrite it with \`dvx add\``);
  }
  return p;
}

/** The data path a pointer file stands for, or undefined if the name is not a pointer's. */
export function dataPathOf(pointerPath: string): string | undefined {
  return pointerPath.endsWith(POINTER_SUFFIX) && pointerPath.length > POINTER_SUFFIX.length ? pointerPath.slice(0, -POINTER_SUFFIX.length) : undefined;
}

export function pointerPathOf(dataPath: string): string {
  return dataPath + POINTER_SUFFIX;
}
