# frozen_string_literal: true

# A small shop: sigma-exec's larger Ruby sample (~50 minitest cases over four files).
module Shop
end

require "shop/money"
require "shop/cart"
require "shop/inventory"
require "shop/text"
