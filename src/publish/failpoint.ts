/**
 * Crash injection for the crash-safety tests: with BARGE_FAILPOINT=name[:n] the process kills
 * itself with SIGKILL the n-th time (default first) it passes the failpoint `name`. It models a
 * power cut or an OOM kill at that exact step; nothing is flushed or cleaned up.
 */
const spec = process.env.BARGE_FAILPOINT;
const [target, countText] = spec ? spec.split(':') : [];
let remaining = countText ? Number(countText) : 1;

/** Marks a point of a write sequence where a crash must leave the repository consistent. */
export function failpoint(name: string): void {
  if (target !== name) return;
  remaining--;
  if (remaining === 0) process.kill(process.pid, 'SIGKILL');
}
