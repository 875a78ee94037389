# frozen_string_literal: true

require "test_helper"

class CartTest < Minitest::Test
  def setup
    @cart = Shop::Cart.new
  end

  def euros(cents) = Shop::Money.new(cents)

  def test_a_new_cart_is_empty = assert_predicate(@cart, :empty?)
  def test_a_new_cart_totals_zero = assert_equal(euros(0), @cart.total)

  def test_adds_items
    @cart.add("tea", euros(300), 2)
    assert_equal 2, @cart.quantity("tea")
  end

  def test_adding_again_adds_up
    @cart.add("tea", euros(300)).add("tea", euros(300), 3)
    assert_equal 4, @cart.quantity("tea")
  end

  def test_refuses_a_zero_quantity
    assert_raises(ArgumentError) { @cart.add("tea", euros(300), 0) }
  end

  def test_lists_items_sorted
    @cart.add("tea", euros(300)).add("cake", euros(250))
    assert_equal %w[cake tea], @cart.items
  end

  def test_removes_items
    @cart.add("tea", euros(300))
    @cart.remove("tea")
    assert_equal 0, @cart.quantity("tea")
  end

  def test_removing_a_missing_item_fails
    assert_raises(KeyError) { @cart.remove("tea") }
  end

  def test_subtotal
    @cart.add("tea", euros(300), 2).add("cake", euros(250))
    assert_equal euros(850), @cart.subtotal
  end

  def test_total_with_a_discount
    @cart.add("tea", euros(1000))
    @cart.discount = 15
    assert_equal euros(850), @cart.total
  end

  def test_refuses_a_discount_over_100
    assert_raises(ArgumentError) { @cart.discount = 120 }
  end

  def test_a_full_discount_makes_it_free
    @cart.add("tea", euros(1000))
    @cart.discount = 100
    assert_predicate @cart.total, :zero?
  end

  def test_unknown_items_have_no_quantity = assert_equal(0, @cart.quantity("coffee"))
end
