const { LRUCache, memoize } = require('../src/lru');

describe('LRUCache', () => {
  test('evicts the least recently used entry', () => {
    const cache = new LRUCache(2).set('a', 1).set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.keys()).toEqual(['a', 'c']);
  });

  test('counts hits and misses', () => {
    const cache = new LRUCache(1).set('k', 'v');
    cache.get('k');
    cache.get('missing');
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  test('overwrites without growing', () => {
    const cache = new LRUCache(3).set('a', 1).set('a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(2);
  });

  test('refuses a capacity of zero', () => {
    expect(() => new LRUCache(0)).toThrow(RangeError);
  });
});

describe('memoize', () => {
  test('calls the function once per argument', () => {
    const square = jest.fn((n) => n * n);
    const fast = memoize(square);
    expect([fast(3), fast(3), fast(4)]).toEqual([9, 9, 16]);
    expect(square).toHaveBeenCalledTimes(2);
  });

  test('forgets beyond its capacity', () => {
    const id = jest.fn((n) => n);
    const fast = memoize(id, 1);
    fast(1);
    fast(2);
    fast(1);
    expect(id).toHaveBeenCalledTimes(3);
  });
});
