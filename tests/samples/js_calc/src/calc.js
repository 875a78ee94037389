'use strict';

function add(a, b) {
  return a + b;
}

function subtract(a, b) {
  return a - b;
}

function divide(a, b) {
  // Bug on purpose: the change set makes division by zero throw.
  return a / b;
}

module.exports = { add, subtract, divide };
