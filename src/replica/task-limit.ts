import { BargeError } from '../error/index.js';

/**
 * Runs async tasks with at most `limit` at once, in the order they were asked for. A snapshot
 * walks catalogs recursively and asks for every object it finds, so the queue, not the walk,
 * bounds the requests in flight. Once stopped (the first fatal error), queued tasks are refused
 * and `idle()` tells when the running ones have settled, so nothing writes after the snapshot
 * has given up and released its lock.
 */
export class TaskLimit {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private stopReason: unknown;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new BargeError('INVALID_ARGUMENT', `parallelism must be a positive integer, not ${limit}`);
    }
  }

  /** Runs `task` when a slot is free; rejects without running it once stopped. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      if (this.stopReason !== undefined) throw this.stopReason;
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else {
        this.running--;
        if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }

  /** Refuses every task not yet started, with `reason`. */
  stop(reason: unknown): void {
    if (this.stopReason === undefined) this.stopReason = reason ?? new Error('stopped');
  }

  /** Resolves when no task runs and none is queued. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
