import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BargeError } from '../error/index.js';

const run = promisify(execFile);

/**
 * Flushes the whole file system holding `dir` with syncfs(2) (coreutils `sync -f`). One call
 * replaces thousands of fsyncs: objects and catalogs become durable together, just before the
 * manifest that references them is swapped in.
 */
export async function syncFilesystem(dir: string): Promise<void> {
  try {
    await run('sync', ['-f', dir]);
  } catch (cause) {
    throw new BargeError('IO_ERROR', `cannot flush the file system of ${dir} to disk`, { cause });
  }
}
