# frozen_string_literal: true

module Shop
  # Text helpers for receipts.
  module Text
    module_function

    def slug(name)
      name.downcase.strip.gsub(/[^a-z0-9]+/, "-").gsub(/\A-|-\z/, "")
    end

    def truncate(text, length)
      return text if text.length <= length
      return text[0, length] if length <= 3

      "#{text[0, length - 3]}..."
    end

    def pad(left, right, width)
      dots = width - left.length - right.length
      dots.positive? ? "#{left}#{"." * dots}#{right}" : "#{left} #{right}"
    end

    def titleize(text)
      text.split.map(&:capitalize).join(" ")
    end
  end
end
