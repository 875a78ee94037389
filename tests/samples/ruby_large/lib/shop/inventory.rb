# frozen_string_literal: true

module Shop
  # Stock counts per item; counts never go below zero.
  class Inventory
    class OutOfStock < StandardError; end

    def initialize(stock = {})
      @stock = Hash.new(0).merge(stock)
    end

    def count(item)
      @stock[item]
    end

    def restock(item, quantity)
      @stock[item] += quantity
    end

    def take(item, quantity)
      raise OutOfStock, "#{item}: #{@stock[item]} left, #{quantity} wanted" if @stock[item] < quantity

      @stock[item] -= quantity
    end

    def low(threshold)
      @stock.select { |_, n| n < threshold }.keys.sort
    end

    def total
      @stock.values.sum
    end
  end
end
