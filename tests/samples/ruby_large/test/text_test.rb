# frozen_string_literal: true

require "test_helper"

class TextTest < Minitest::Test
  def test_slug = assert_equal("green-tea-50g", Shop::Text.slug(" Green Tea, 50g! "))
  def test_slug_of_a_plain_word = assert_equal("tea", Shop::Text.slug("Tea"))
  def test_truncates = assert_equal("Earl G...", Shop::Text.truncate("Earl Grey Tea", 9))
  def test_keeps_short_text = assert_equal("Tea", Shop::Text.truncate("Tea", 9))
  def test_truncates_to_tiny_lengths = assert_equal("Ea", Shop::Text.truncate("Earl Grey", 2))
  def test_pads = assert_equal("tea......3.00", Shop::Text.pad("tea", "3.00", 13))
  def test_pads_with_a_space_when_too_long = assert_equal("tea 3.00", Shop::Text.pad("tea", "3.00", 5))
  def test_titleizes = assert_equal("Green Tea", Shop::Text.titleize("green tea"))
  def test_slug_drops_leading_dashes = assert_equal("tea", Shop::Text.slug("--tea"))
  def test_truncates_exactly_at_the_length = assert_equal("Tea", Shop::Text.truncate("Tea", 3))
  def test_titleizes_single_words = assert_equal("Tea", Shop::Text.titleize("tea"))
  def test_titleizes_empty_text = assert_equal("", Shop::Text.titleize(""))

  def test_skips_on_purpose
    skip "receipts in other languages come later"
  end
end
