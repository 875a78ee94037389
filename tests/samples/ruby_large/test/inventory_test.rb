# frozen_string_literal: true

require "test_helper"

class InventoryTest < Minitest::Test
  def setup
    @stock = Shop::Inventory.new("tea" => 5, "cake" => 1)
  end

  def test_counts = assert_equal(5, @stock.count("tea"))
  def test_unknown_items_count_zero = assert_equal(0, @stock.count("coffee"))
  def test_total = assert_equal(6, @stock.total)
  def test_low_stock = assert_equal(%w[cake], @stock.low(2))
  def test_nothing_is_low_under_zero = assert_empty(@stock.low(0))

  def test_restocks
    @stock.restock("cake", 4)
    assert_equal 5, @stock.count("cake")
  end

  def test_restocks_new_items
    @stock.restock("coffee", 2)
    assert_equal 2, @stock.count("coffee")
  end

  def test_takes
    @stock.take("tea", 2)
    assert_equal 3, @stock.count("tea")
  end

  def test_takes_everything
    @stock.take("cake", 1)
    assert_equal 0, @stock.count("cake")
  end

  def test_refuses_to_take_more_than_held
    error = assert_raises(Shop::Inventory::OutOfStock) { @stock.take("cake", 2) }
    assert_match(/1 left/, error.message)
  end

  def test_out_of_stock_is_a_standard_error = assert_operator(Shop::Inventory::OutOfStock, :<, StandardError)
end
