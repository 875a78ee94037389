const assert = require('assert');
const { chunk } = require('lodash');
describe('chunk', () => {
  it('pairs', () => { assert.deepStrictEqual(chunk([1, 2, 3], 2), [[1, 2], [3]]); });
  it('fails', () => { assert.strictEqual(1, 2); });
  it.skip('skipped', () => {});
});
