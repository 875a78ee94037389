import { add, divide, sign, Sign } from '../src/calc';

describe('calc', () => {
  it('adds a pair', () => {
    expect(add({ a: 2, b: 3 })).toBe(5);
  });

  it('divides', () => {
    expect(divide(6, 3)).toBe(2);
  });

  it('knows signs', () => {
    const cases: Array<[number, Sign]> = [[-2, Sign.Negative], [0, Sign.Zero], [7, Sign.Positive]];
    for (const [n, expected] of cases) {
      expect(sign(n)).toBe(expected);
    }
  });

  it('refuses to divide by zero', () => {
    expect(() => divide(1, 0)).toThrow('division by zero');
  });

  it.skip('rounds (not written yet)', () => {
    expect(Math.round(0.5)).toBe(1);
  });
});
