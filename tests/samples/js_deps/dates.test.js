const { nextDay, pairs } = require('./dates');

test('the day after the last of February in a leap year', () => {
  expect(nextDay('2024-02-28')).toBe('2024-02-29');
});

test('pairs come from lodash', () => {
  expect(pairs([1, 2, 3])).toEqual([[1, 2], [3]]);
});
