/**
 * Crash injection for the crash-safety tests: with BARGE_FAILPOINT=name[:n] the process kills
 * itself with SIGKILL the n-th time (default first) it passes the failpoint `name`, in any thread.
 * It models a power cut or an OOM kill at that exact step; nothing is flushed or cleaned up.
 */
const spec = process.env.BARGE_FAILPOINT;
const [target, countText] = spec ? spec.split(':') : [];
const limit = countText ? Number(countText) : 1;
/** Passes so far; shared with worker threads so that "the n-th object" counts process-wide. */
let passes = new Int32Array(new SharedArrayBuffer(4));

/** The counter to hand to worker threads. */
export function failpointCounter(): SharedArrayBuffer {
  return passes.buffer as SharedArrayBuffer;
}

/** Uses the process-wide counter a worker thread was given. */
export function useFailpointCounter(counter: SharedArrayBuffer): void {
  passes = new Int32Array(counter);
}

/** Marks a point of a write sequence where a crash must leave the repository consistent. */
export function failpoint(name: string): void {
  if (target !== name) return;
  if (Atomics.add(passes, 0, 1) + 1 === limit) process.kill(process.pid, 'SIGKILL');
}
