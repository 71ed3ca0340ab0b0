import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI entry point of this checkout. */
export const BARGE_BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'barge.js',
);

/** Runs the barge CLI as a child process (what operators and crash tests use). */
export function runBarge(
  args: string[],
  env: Record<string, string> = {},
  options: { uid?: number; gid?: number } = {},
) {
  const r = spawnSync(process.execPath, [BARGE_BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
    // A command that does not exit (a worker thread left running) fails the test instead of hanging it.
    timeout: 180_000,
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
