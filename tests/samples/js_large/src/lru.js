'use strict';

class LRUCache {
  constructor(capacity) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.map = new Map();
    this.hits = 0;
    this.misses = 0;
  }

  get(key) {
    if (!this.map.has(key)) {
      this.misses += 1;
      return undefined;
    }
    const value = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, value);
    this.hits += 1;
    return value;
  }

  set(key, value) {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value);
    return this;
  }

  get size() {
    return this.map.size;
  }

  keys() {
    return [...this.map.keys()];
  }
}

function memoize(fn, capacity = 100) {
  const cache = new LRUCache(capacity);
  const wrapped = (arg) => {
    const cached = cache.get(arg);
    if (cached !== undefined) return cached;
    const value = fn(arg);
    cache.set(arg, value);
    return value;
  };
  wrapped.cache = cache;
  return wrapped;
}

module.exports = { LRUCache, memoize };
