export interface Pair {
  a: number;
  b: number;
}

export function add({ a, b }: Pair): number {
  return a + b;
}

export function divide(a: number, b: number): number {
  // Bug on purpose: the change set makes division by zero throw.
  return a / b;
}

export enum Sign {
  Negative = -1,
  Zero = 0,
  Positive = 1,
}

export function sign(n: number): Sign {
  return n < 0 ? Sign.Negative : n > 0 ? Sign.Positive : Sign.Zero;
}
