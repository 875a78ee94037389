const { Cart } = require('../src/cart');

describe('Cart', () => {
  let cart;

  beforeEach(() => {
    cart = new Cart(0.2);
  });

  test('starts empty', () => {
    expect(cart.count).toBe(0);
    expect(cart.total()).toBe(0);
  });

  test('adds lines and merges the same sku', () => {
    cart.add('apple', '0.50', 2).add('apple', '0.50');
    expect(cart.count).toBe(3);
    expect(cart.subtotal()).toBe(150);
  });

  test('removes part of a line, then all of it', () => {
    cart.add('pear', '1.00', 3);
    cart.remove('pear', 1);
    expect(cart.count).toBe(2);
    cart.remove('pear');
    expect(cart.lines.has('pear')).toBe(false);
  });

  test('ignores removing what it does not hold', () => {
    expect(cart.remove('nothing').count).toBe(0);
  });

  test('adds tax, rounded to the cent', () => {
    cart.add('book', '9.99');
    expect(cart.tax()).toBe(200);
    expect(cart.total()).toBe(1199);
  });

  test('refuses a quantity that is not a positive integer', () => {
    expect(() => cart.add('x', 1, 0)).toThrow(RangeError);
    expect(() => cart.add('x', 1, 1.5)).toThrow('positive integer');
  });

  test('refuses a tax rate above one', () => {
    expect(() => new Cart(1.5)).toThrow(RangeError);
  });
});
