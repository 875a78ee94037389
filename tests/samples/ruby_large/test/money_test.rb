# frozen_string_literal: true

require "test_helper"

class MoneyTest < Minitest::Test
  def euros(cents) = Shop::Money.new(cents)

  def test_adds = assert_equal(euros(350), euros(100) + euros(250))
  def test_subtracts = assert_equal(euros(-150), euros(100) - euros(250))
  def test_multiplies_and_rounds = assert_equal(euros(33), euros(100) * 0.333)
  def test_compares = assert_operator(euros(100), :<, euros(101))
  def test_equal_amounts_are_equal = assert_equal(euros(5), euros(5))
  def test_zero = assert_predicate(euros(0), :zero?)
  def test_not_zero = refute_predicate(euros(1), :zero?)
  def test_formats = assert_equal("12.05 EUR", euros(1205).to_s)
  def test_formats_negative_amounts = assert_equal("-0.50 EUR", euros(-50).to_s)
  def test_formats_other_currencies = assert_equal("1.00 USD", Shop::Money.new(100, "USD").to_s)

  def test_refuses_mixed_currencies
    assert_raises(ArgumentError) { euros(1) + Shop::Money.new(1, "USD") }
  end

  def test_refuses_fractional_cents
    assert_raises(ArgumentError) { Shop::Money.new(1.5) }
  end

  def test_different_currencies_do_not_compare
    assert_nil(euros(1) <=> Shop::Money.new(1, "USD"))
  end
end
