import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lru } from './lru.ts';

test('the LRU evicts the least recently used entries past its weight, and expires old ones', () => {
  const lru = new Lru<string, number>(10, 1000);
  lru.set('a', 1, 4, 0);
  lru.set('b', 2, 4, 0);
  assert.equal(lru.get('a', 1), 1); // a is now most recent
  lru.set('c', 3, 4, 2); // evicts b
  assert.equal(lru.get('b', 3), undefined);
  assert.equal(lru.get('a', 3), 1);
  assert.equal(lru.get('c', 3), 3);
  assert.equal(lru.get('a', 5000), undefined, 'expired');
  lru.set('huge', 9, 11, 0);
  assert.equal(lru.get('huge', 0), undefined, 'heavier than the whole cache: not kept');
});
