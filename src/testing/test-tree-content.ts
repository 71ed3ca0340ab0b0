import type { FileHandle } from 'node:fs/promises';
import { SeededRandom } from './seeded-random.js';

const MIB = 1024 * 1024;

/** Compressible text of exactly `size` bytes: numbered lines with a little seeded variety. */
export function textContent(rng: SeededRandom, size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = `${i} the quick brown fox ${rng.int(1000)} jumps over the lazy dog\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

/**
 * Writes the big file: `size` bytes laid out as 40% random stream A, then a copy of the first
 * 30% of A, 5% zeros, and random stream B for the rest. The random parts defeat compression
 * (so chunk sizes are real), the copied region is long enough (15 MB of a 50 MB file) to hold
 * whole content-defined chunks that deduplicate, and the zero run is one compressible stretch.
 * Written 1 MiB at a time, so memory stays bounded whatever the size.
 */
export async function writeBigFile(handle: FileHandle, size: number, seed: number | string): Promise<void> {
  const first = Math.floor(size * 0.4);
  const copy = Math.floor(size * 0.3);
  const zeros = Math.floor(size * 0.05);
  const regions: Array<[() => SeededRandom | null, number]> = [
    [() => new SeededRandom(seed, 'big:a'), first],
    [() => new SeededRandom(seed, 'big:a'), copy], // the same stream again: identical bytes
    [() => null, zeros],
    [() => new SeededRandom(seed, 'big:b'), size - first - copy - zeros],
  ];
  for (const [source, length] of regions) {
    const rng = source();
    for (let done = 0; done < length; ) {
      const n = Math.min(MIB, length - done);
      await handle.write(rng ? rng.bytes(n) : Buffer.alloc(n));
      done += n;
    }
  }
}
