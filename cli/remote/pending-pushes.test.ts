import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '../../core/errors.ts';
import { fuzzDecoder } from '../../test/support/fuzz.ts';
import { decodePendingPush, encodePendingPush, type PendingPush } from './pending-pushes.ts';

const sample: PendingPush = {
  version: 1,
  gitPid: 4242,
  remote: 'origin',
  url: 'git@example.com:team/repo.git',
  dvxRemote: 'origin',
  created: '2026-11-25T10:00:00.000Z',
  refs: [
    { name: 'refs/heads/main', pushed: 'a'.repeat(40), sha: 'a'.repeat(40), old: 'b'.repeat(40) },
    { name: 'refs/tags/v1', pushed: 'c'.repeat(40), sha: null, old: null },
  ],
};
const bytes = (s: string) => new TextEncoder().encode(s);

test('a pending push round-trips; fields, form and encoding are checked', () => {
  assert.deepEqual(decodePendingPush(bytes(encodePendingPush(sample))), sample);
  const bad = (text: string, why: RegExp) => assert.throws(() => decodePendingPush(bytes(text)), (e: unknown) => e instanceof FormatError && why.test(e.message));
  bad('{', /not UTF-8 JSON/);
  bad(encodePendingPush(sample).replace('"gitPid":4242', '"gitPid":-1'), /gitPid/);
  bad(JSON.stringify({ ...sample, refs: [] }) + '\n', /refs/);
  bad(JSON.stringify({ ...sample, refs: [{ name: 'refs/remotes/x', pushed: null, sha: null, old: null }] }) + '\n', /refs\.0\.name/);
  bad(JSON.stringify({ ...sample, extra: 1 }) + '\n', /extra|Unrecognized/i);
  bad(JSON.stringify(sample, null, 2) + '\n', /form dvx writes/);
  assert.throws(() => decodePendingPush(Uint8Array.from([0x7b, 0xff, 0x7d])), FormatError);
});

test('fuzz: any input is rejected with a FormatError or decodes canonically', () => {
  fuzzDecoder({ decode: decodePendingPush, encode: (p) => bytes(encodePendingPush(p)), samples: [bytes(encodePendingPush(sample))] });
});
