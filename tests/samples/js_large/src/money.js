'use strict';

// Amounts are integers in cents: no floating-point drift.
function toCents(value) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite amount: ${value}`);
    return Math.round(value * 100);
  }
  const match = /^\s*(-)?(\d+)(?:\.(\d{1,2}))?\s*$/.exec(String(value));
  if (!match) throw new TypeError(`not an amount: ${value}`);
  const cents = Number(match[2]) * 100 + Number((match[3] || '0').padEnd(2, '0'));
  return match[1] ? -cents : cents;
}

function format(cents, currency = 'EUR') {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const units = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${units}.${String(abs % 100).padStart(2, '0')} ${currency}`;
}

// Splits cents into `parts` shares that differ by at most one cent and add up exactly.
function allocate(cents, parts) {
  if (!Number.isInteger(parts) || parts <= 0) throw new RangeError('parts must be a positive integer');
  const base = Math.trunc(cents / parts);
  let rest = cents - base * parts;
  return Array.from({ length: parts }, () => {
    if (rest === 0) return base;
    const step = Math.sign(rest);
    rest -= step;
    return base + step;
  });
}

module.exports = { toCents, format, allocate };
