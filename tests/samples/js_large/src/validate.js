'use strict';

const EMAIL = /^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i;

// Luhn checksum, as payment card numbers use.
function luhn(digits) {
  const clean = String(digits).replace(/[\s-]/g, '');
  if (!/^\d{2,}$/.test(clean)) return false;
  let sum = 0;
  for (let i = 0; i < clean.length; i += 1) {
    let d = Number(clean[clean.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function isEmail(text) {
  return EMAIL.test(String(text));
}

// Field rules: { name: [check, message] }; returns the messages of the fields that fail.
function validate(record, rules) {
  const errors = {};
  for (const [name, [check, message]] of Object.entries(rules)) {
    if (!check(record[name], record)) errors[name] = message;
  }
  return errors;
}

module.exports = { luhn, isEmail, validate };
