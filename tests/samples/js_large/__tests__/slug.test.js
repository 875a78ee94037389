const { slugify, uniqueSlug } = require('../src/slug');

describe('slugify', () => {
  test.each([
    ['Hello, World!', 'hello-world'],
    ['  Crème brûlée  ', 'creme-brulee'],
    ['a--b__c', 'a-b-c'],
    ['2024 Report (final)', '2024-report-final'],
  ])('%p becomes %p', (text, slug) => {
    expect(slugify(text)).toBe(slug);
  });

  test('takes another separator', () => {
    expect(slugify('One Two', '_')).toBe('one_two');
  });
});

describe('uniqueSlug', () => {
  test('keeps a free slug', () => {
    expect(uniqueSlug('News', new Set())).toBe('news');
  });

  test('numbers a taken one', () => {
    expect(uniqueSlug('News', new Set(['news', 'news-2']))).toBe('news-3');
  });

  test('names an empty title', () => {
    expect(uniqueSlug('!!!', new Set())).toBe('item');
  });
});
