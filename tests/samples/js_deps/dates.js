const dayjs = require('dayjs');
const { chunk } = require('lodash');

function nextDay(iso) {
  return dayjs(iso).add(1, 'day').format('YYYY-MM-DD');
}

module.exports = { nextDay, pairs: (xs) => chunk(xs, 2) };
