# frozen_string_literal: true

module Shop
  # Lines of (item, unit price, quantity) with an optional percentage discount.
  class Cart
    Line = Struct.new(:item, :price, :quantity)

    attr_reader :discount

    def initialize
      @lines = {}
      @discount = 0
    end

    def add(item, price, quantity = 1)
      raise ArgumentError, "quantity must be positive" unless quantity.positive?

      line = @lines[item]
      if line
        line.quantity += quantity
      else
        @lines[item] = Line.new(item, price, quantity)
      end
      self
    end

    def remove(item)
      @lines.delete(item) or raise KeyError, "no #{item} in the cart"
    end

    def quantity(item)
      @lines[item]&.quantity || 0
    end

    def items
      @lines.keys.sort
    end

    def empty?
      @lines.empty?
    end

    def discount=(percent)
      raise ArgumentError, "discount must be within 0..100" unless (0..100).cover?(percent)

      @discount = percent
    end

    def subtotal
      @lines.values.map { |l| l.price * l.quantity }.reduce(Money.new(0), :+)
    end

    def total
      subtotal * ((100 - discount) / 100.0)
    end
  end
end
