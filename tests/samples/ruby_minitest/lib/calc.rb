# frozen_string_literal: true

# A tiny calculator for sigma-exec's Ruby samples.
module Calc
  module_function

  def add(a, b)
    a + b
  end

  def subtract(a, b)
    a - b
  end

  def divide(a, b)
    # Bug on purpose: the change set makes division by zero raise.
    return Float::INFINITY if b.zero?

    a / b
  end
end
