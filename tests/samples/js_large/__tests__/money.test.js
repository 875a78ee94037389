const { toCents, format, allocate } = require('../src/money');

describe('toCents', () => {
  test.each([
    ['12.34', 1234],
    ['12.3', 1230],
    ['7', 700],
    ['-0.05', -5],
    [19.99, 1999],
  ])('reads %p as %i cents', (input, cents) => {
    expect(toCents(input)).toBe(cents);
  });

  test('refuses text that is no amount', () => {
    expect(() => toCents('12,34')).toThrow('not an amount');
  });

  test('refuses infinity', () => {
    expect(() => toCents(Infinity)).toThrow(TypeError);
  });
});

describe('format', () => {
  test('groups thousands', () => {
    expect(format(123456789)).toBe('1,234,567.89 EUR');
  });

  test('keeps the sign and the currency', () => {
    expect(format(-5, 'USD')).toBe('-0.05 USD');
  });
});

describe('allocate', () => {
  test('splits evenly when it can', () => {
    expect(allocate(900, 3)).toEqual([300, 300, 300]);
  });

  test('hands out the remainder one cent at a time', () => {
    expect(allocate(1000, 3)).toEqual([334, 333, 333]);
  });

  test('always adds up', () => {
    for (const cents of [1, 99, 1001, -1001]) {
      expect(allocate(cents, 7).reduce((a, b) => a + b, 0)).toBe(cents);
    }
  });

  test('refuses zero parts', () => {
    expect(() => allocate(100, 0)).toThrow(RangeError);
  });
});
