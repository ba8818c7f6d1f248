import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { DvxError } from '../../core/errors.ts';

/** Values of params.yaml by dotted key (`train.lr` is params.train.lr). */
export const PARAMS_FILE = 'params.yaml';

export class Params {
  private constructor(private readonly data: unknown, private readonly file: string) {}

  static load(root: string): Params {
    const file = join(root, PARAMS_FILE);
    if (!existsSync(file)) return new Params({}, file);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.errors.length) throw new DvxError('bad_params', `${PARAMS_FILE}: ${doc.errors[0]!.message}`);
    return new Params(doc.toJS() ?? {}, file);
  }

  get(key: string, stage: string): unknown {
    let v: unknown = this.data;
    for (const part of key.split('.')) {
      if (v === null || typeof v !== 'object' || !(part in (v as object))) {
        throw new DvxError('missing_param', `stage ${stage} uses param ${key}, which ${PARAMS_FILE} does not have`, `add it to ${this.file}, or remove it from the stage's params`);
      }
      v = (v as Record<string, unknown>)[part];
    }
    return v;
  }

  values(keys: readonly string[], stage: string): Record<string, unknown> {
    return Object.fromEntries(keys.map((k) => [k, this.get(k, stage)]));
  }
}
