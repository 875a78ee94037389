const { luhn, isEmail, validate } = require('../src/validate');

describe('luhn', () => {
  test.each(['4539 1488 0343 6467', '79927398713', '4111-1111-1111-1111'])('accepts %s', (number) => {
    expect(luhn(number)).toBe(true);
  });

  test.each(['4539 1488 0343 6468', '1234', 'abc'])('rejects %s', (number) => {
    expect(luhn(number)).toBe(false);
  });
});

describe('isEmail', () => {
  test('accepts an address', () => {
    expect(isEmail('ada@example.org')).toBe(true);
  });

  test('rejects one without a domain', () => {
    expect(isEmail('ada@')).toBe(false);
  });
});

describe('validate', () => {
  const rules = {
    email: [isEmail, 'a valid e-mail address'],
    age: [(v) => Number.isInteger(v) && v >= 18, 'an adult'],
  };

  test('returns no errors for a good record', () => {
    expect(validate({ email: 'a@b.io', age: 30 }, rules)).toEqual({});
  });

  test('names every failing field', () => {
    expect(validate({ email: 'nope', age: 12 }, rules)).toEqual({
      email: 'a valid e-mail address',
      age: 'an adult',
    });
  });
});
