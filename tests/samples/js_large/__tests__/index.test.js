const library = require('../src');

test('exports every module', () => {
  expect(Object.keys(library).sort()).toEqual([
    'Cart', 'LRUCache', 'TaskQueue', 'allocate', 'format', 'isEmail', 'luhn', 'memoize',
    'parse', 'parseLine', 'retry', 'slugify', 'stringify', 'toCents', 'uniqueSlug', 'validate',
  ]);
});
