# frozen_string_literal: true

module Shop
  # An amount of cents in one currency.
  class Money
    include Comparable

    attr_reader :cents, :currency

    def initialize(cents, currency = "EUR")
      raise ArgumentError, "cents must be an Integer" unless cents.is_a?(Integer)

      @cents = cents
      @currency = currency
    end

    def +(other)
      check_currency(other)
      Money.new(cents + other.cents, currency)
    end

    def -(other)
      check_currency(other)
      Money.new(cents - other.cents, currency)
    end

    def *(factor)
      Money.new((cents * factor).round, currency)
    end

    def <=>(other)
      return nil unless other.is_a?(Money) && other.currency == currency

      cents <=> other.cents
    end

    def zero?
      cents.zero?
    end

    def to_s
      format("%<sign>s%<units>d.%<cents>02d %<currency>s", sign: cents.negative? ? "-" : "",
                                                          units: cents.abs / 100, cents: cents.abs % 100,
                                                          currency: currency)
    end

    private

    def check_currency(other)
      raise ArgumentError, "currency mismatch: #{currency} vs #{other.currency}" unless other.currency == currency
    end
  end
end
