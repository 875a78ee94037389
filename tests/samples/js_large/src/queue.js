'use strict';

// Runs async tasks with at most `limit` at a time, in order of submission.
class TaskQueue {
  constructor(limit = 2) {
    this.limit = limit;
    this.running = 0;
    this.waiting = [];
    this.done = 0;
  }

  push(task) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ task, resolve, reject });
      this.next();
    });
  }

  next() {
    while (this.running < this.limit && this.waiting.length) {
      const { task, resolve, reject } = this.waiting.shift();
      this.running += 1;
      Promise.resolve()
        .then(task)
        .then(resolve, reject)
        .finally(() => {
          this.running -= 1;
          this.done += 1;
          this.next();
        });
    }
  }
}

async function retry(fn, { attempts = 3, onRetry = () => {} } = {}) {
  let last;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      last = error;
      if (attempt < attempts) onRetry(error, attempt);
    }
  }
  throw last;
}

module.exports = { TaskQueue, retry };
