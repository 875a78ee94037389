'use strict';

module.exports = {
  ...require('./money'),
  ...require('./cart'),
  ...require('./slug'),
  ...require('./lru'),
  ...require('./csv'),
  ...require('./validate'),
  ...require('./queue'),
};
