/**
 * A small least-recently-used map bounded by a weight (bytes, roughly), with
 * an optional time to live, for decoded manifests and read plans.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number; at: number }>();
  private weight = 0;

  constructor(private readonly maxWeight: number, private readonly ttlMs = Infinity) {}

  get(key: K, now = Date.now()): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (now - e.at > this.ttlMs) {
      this.weight -= e.weight;
      return undefined;
    }
    this.map.set(key, e);
    return e.value;
  }

  set(key: K, value: V, weight: number, now = Date.now()): void {
    const old = this.map.get(key);
    if (old) {
      this.weight -= old.weight;
      this.map.delete(key);
    }
    if (weight > this.maxWeight) return;
    this.map.set(key, { value, weight, at: now });
    this.weight += weight;
    while (this.weight > this.maxWeight) {
      const [k, e] = this.map.entries().next().value as [K, { weight: number }];
      this.map.delete(k);
      this.weight -= e.weight;
    }
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  get size(): number {
    return this.map.size;
  }
}
