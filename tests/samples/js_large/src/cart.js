'use strict';

const { toCents } = require('./money');

class Cart {
  constructor(taxRate = 0) {
    if (taxRate < 0 || taxRate > 1) throw new RangeError('tax rate must be between 0 and 1');
    this.taxRate = taxRate;
    this.lines = new Map();
  }

  add(sku, price, quantity = 1) {
    if (!Number.isInteger(quantity) || quantity <= 0) throw new RangeError('quantity must be a positive integer');
    const line = this.lines.get(sku) || { sku, unit: toCents(price), quantity: 0 };
    line.quantity += quantity;
    this.lines.set(sku, line);
    return this;
  }

  remove(sku, quantity = Infinity) {
    const line = this.lines.get(sku);
    if (!line) return this;
    line.quantity -= Math.min(quantity, line.quantity);
    if (line.quantity === 0) this.lines.delete(sku);
    return this;
  }

  get count() {
    let total = 0;
    for (const line of this.lines.values()) total += line.quantity;
    return total;
  }

  subtotal() {
    let total = 0;
    for (const line of this.lines.values()) total += line.unit * line.quantity;
    return total;
  }

  tax() {
    return Math.round(this.subtotal() * this.taxRate);
  }

  total() {
    return this.subtotal() + this.tax();
  }
}

module.exports = { Cart };
