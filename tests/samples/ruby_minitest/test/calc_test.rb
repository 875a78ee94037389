# frozen_string_literal: true

require "test_helper"

class CalcTest < Minitest::Test
  def test_adds
    assert_equal 5, Calc.add(2, 3)
  end

  def test_subtracts
    assert_equal 2, Calc.subtract(5, 3)
  end

  def test_divides
    assert_equal 2, Calc.divide(6, 3)
  end

  def test_refuses_to_divide_by_zero
    assert_raises(ZeroDivisionError) { Calc.divide(1, 0) }
  end

  def test_multiplies
    skip "not written yet"
  end
end
