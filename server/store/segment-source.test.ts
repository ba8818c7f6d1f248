import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SegmentPlanner } from './segment-source.ts';

test('adjacent blobs of one pack merge into one read, up to the limit; gaps, other packs and trims start a new one', () => {
  const p = new SegmentPlanner(100, 50);
  p.add('a', 'P', 0, 30);
  p.add('b', 'P', 30, 20); // first segment reaches its 50-byte limit
  p.add('c', 'P', 50, 30); // new segment
  p.add('d', 'P', 80, 60); // merges: 90 <= 100
  p.add('e', 'P', 200, 10); // gap
  p.add('f', 'Q', 210, 10); // other pack
  p.add('g', 'Q', 220, 10, 0, 4); // trimmed end merges...
  p.add('h', 'Q', 230, 10); // ...but nothing merges after a trimmed end
  assert.deepEqual(
    p.segments.map((s) => [s.pack, s.offset, s.length, s.from, s.to, s.blobs.map((b) => b.id).join('')]),
    [
      ['P', 0, 50, 0, 50, 'ab'],
      ['P', 50, 90, 0, 90, 'cd'],
      ['P', 200, 10, 0, 10, 'e'],
      ['Q', 210, 20, 0, 14, 'fg'],
      ['Q', 230, 10, 0, 10, 'h'],
    ],
  );
});
