const { TaskQueue, retry } = require('../src/queue');

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TaskQueue', () => {
  test('runs no more than its limit at once', async () => {
    const queue = new TaskQueue(2);
    let active = 0;
    let peak = 0;
    const task = async () => {
      active += 1;
      peak = Math.max(peak, active);
      await tick();
      active -= 1;
    };
    await Promise.all([1, 2, 3, 4, 5].map(() => queue.push(task)));
    expect(peak).toBe(2);
    expect(queue.done).toBe(5);
  });

  test('passes on results and errors', async () => {
    const queue = new TaskQueue(1);
    await expect(queue.push(async () => 42)).resolves.toBe(42);
    await expect(queue.push(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  });
});

describe('retry', () => {
  test('returns the first success', async () => {
    const fn = jest.fn().mockRejectedValueOnce(new Error('flaky')).mockResolvedValue('ok');
    const onRetry = jest.fn();
    await expect(retry(fn, { onRetry })).resolves.toBe('ok');
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  test('gives up after its attempts', async () => {
    const fn = jest.fn().mockRejectedValue(new Error('down'));
    await expect(retry(fn, { attempts: 2 })).rejects.toThrow('down');
    expect(fn).toHaveBeenCalledTimes(2);
  });
});
