# frozen_string_literal: true

# Resolves the Gemfile against the installed gems; sigma-exec keeps it from writing Gemfile.lock.
require "bundler/setup"

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

RSpec.configure do |config|
  config.disable_monkey_patching!
end
