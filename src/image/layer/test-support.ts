/**
 * For this folder's tests only (not exported): run the real tools, feed buffers in odd-sized
 * chunks, and collect what the readers yield into plain objects.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { type BargeError, type ErrorCode, isBargeError } from '../../error/index.js';
import type { LayerEntry } from './read-layer.js';

/** Runs a shell command (the real tar, umoci, skopeo, zstd) and returns its stdout. */
export function sh(command: string, cwd?: string): string {
  try {
    return execFileSync('bash', ['-euo', 'pipefail', '-c', command], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`command failed: ${command}\n${stderr}`);
  }
}

/** A buffer as a stream of chunks of `size` bytes (odd sizes split headers across chunks). */
export async function* chunked(bytes: Buffer, size = 64 * 1024): AsyncGenerator<Buffer, void, undefined> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** An entry with its content read whole. */
export type CollectedEntry = Omit<Extract<LayerEntry, { content: unknown }>, 'content'> & { data: Buffer };

/** Reads every entry, content included, into plain objects (whiteouts and opaque markers as they are). */
export async function collect(
  entries: AsyncIterable<LayerEntry>,
): Promise<Array<CollectedEntry | LayerEntry>> {
  const out: Array<CollectedEntry | LayerEntry> = [];
  for await (const entry of entries) {
    if (entry.type === 'whiteout' || entry.type === 'opaque') {
      out.push(entry);
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of entry.content) chunks.push(Buffer.from(chunk));
    const { content: _, ...info } = entry;
    out.push({ ...info, data: Buffer.concat(chunks) });
  }
  return out;
}

/** Asserts that `work` fails with a BargeError of `code` whose message matches every pattern. */
export async function rejectsWith(
  work: Promise<unknown>,
  code: ErrorCode,
  ...patterns: RegExp[]
): Promise<BargeError> {
  let caught: unknown;
  try {
    await work;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but it succeeded`);
  assert.ok(
    isBargeError(caught, code),
    `expected ${code}, got ${String((caught as Error)?.stack ?? caught)}`,
  );
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}
