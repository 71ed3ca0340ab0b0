import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BargeError, errnoCode, isBargeError } from '../../error/index.js';
import { layerError } from './layer-error.js';

/** The zstd command used when none is given: the Debian `zstd` package's, found on PATH. */
export const ZSTD_COMMAND = 'zstd';

/** A decompressor run as a child process: formats Node 20's zlib lacks. */
export interface DecompressTool {
  /** Format name for messages: zstd, bzip2, xz. */
  format: string;
  command: string;
  /** Debian package that has the command. */
  debianPackage: string;
}

/** bzip2 (what jobsub_lite sends) and xz (what GNU tar -J writes), for user tarballs. */
export const BZIP2_TOOL: DecompressTool = { format: 'bzip2', command: 'bzip2', debianPackage: 'bzip2' };
export const XZ_TOOL: DecompressTool = { format: 'xz', command: 'xz', debianPackage: 'xz-utils' };

/**
 * Decompresses zstd (RFC 8878) by streaming through a `zstd -dc` child process: Node 20's zlib
 * has no zstd. Both pipes carry backpressure: a slow consumer stops reading stdout, zstd blocks
 * on its full pipe and stops reading stdin, and the input is then no longer pulled. zstd keeps
 * its default 128 MiB window limit, so a frame cannot make it allocate more.
 */
export function zstdDecompress(
  input: AsyncIterable<Buffer>,
  label: string,
  command = ZSTD_COMMAND,
): AsyncGenerator<Buffer, void, undefined> {
  return toolDecompress(input, label, { format: 'zstd', command, debianPackage: 'zstd' });
}

/** Streams `input` through `<command> -d -c -q` (zstd, bzip2 and xz all take these flags). */
export async function* toolDecompress(
  input: AsyncIterable<Buffer>,
  label: string,
  tool: DecompressTool,
): AsyncGenerator<Buffer, void, undefined> {
  const { command, format } = tool;
  const child = spawn(command, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let spawnError: unknown;
  const closed = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', (err) => {
      spawnError = err;
      resolve(null);
    });
  });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString('utf8')).slice(-4096);
  });
  let inputError: unknown;
  const fed = pipeline(Readable.from(input, { objectMode: false }), child.stdin).catch((err: unknown) => {
    inputError = err;
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await closed;
    await fed;
    if (spawnError !== undefined) throw toolMissing(spawnError, tool, label);
    // An error of the input itself (a digest mismatch upstream) explains everything after it;
    // EPIPE only says zstd stopped reading, and its exit status says why.
    if (inputError !== undefined && errnoCode(inputError) !== 'EPIPE') throw inputError;
    if (code !== 0) {
      const message = stderr.trim().replace(/\s+/g, ' ');
      const cut = /unexpected end of file|truncated|premature end/i.test(message) ? 'truncated: ' : '';
      throw layerError(
        'LAYER_CORRUPT',
        `${cut}${format} could not decompress it (${message || `exit ${code}`})`,
        {
          layer: label,
        },
      );
    }
  } catch (err) {
    if (spawnError !== undefined) throw toolMissing(spawnError, tool, label);
    throw err;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdout.destroy();
    child.stdin.destroy();
  }
}

/** True when the zstd command runs (for a site check before the first zstd layer arrives). */
export async function zstdAvailable(command = ZSTD_COMMAND): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  });
}

function toolMissing(err: unknown, tool: DecompressTool, label: string): BargeError {
  if (isBargeError(err)) return err;
  const { command, format } = tool;
  const missing = errnoCode(err) === 'ENOENT';
  return new BargeError(
    'TOOL_NOT_FOUND',
    `layer ${label} is ${format}-compressed and ${missing ? `the ${command} command was not found` : `${command} could not be started`}`,
    {
      hint: `install ${tool.debianPackage} (Debian: apt-get install ${tool.debianPackage}); barge runs ${command} to decompress ${format}`,
      cause: err,
    },
  );
}
