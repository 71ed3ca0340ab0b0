/** Chunk size limits; the defaults are cvmfs_server's (spec §8). */
export interface ChunkSizes {
  min: number;
  avg: number;
  max: number;
}

/** CVMFS_MIN/AVG/MAX_CHUNK_SIZE defaults: 4, 8 and 16 MiB. */
export const DEFAULT_CHUNK_SIZES: ChunkSizes = { min: 4 << 20, avg: 8 << 20, max: 16 << 20 };

const WINDOW = 32;
const MAGIC = 0x7fffffff; // int32(UINT32_MAX / 2)

/**
 * The xor32 rolling-hash cut-point detector of CVMFS (from Igor-FS), fed block by block so that a
 * file never has to be in memory whole. Producing the same cut marks as cvmfs_server makes chunks
 * of the same file deduplicate across both tools (spec §8.1). The byte that triggers a cut starts
 * the next chunk; with no trigger a hard cut falls at `max`.
 */
export class Xor32Chunker {
  private readonly sizes: ChunkSizes;
  private readonly threshold: number;
  /** |int32(x) - MAGIC| < threshold, with 32-bit wrap-around, is one unsigned range test: u - LOW < RANGE. */
  private readonly low: number;
  private readonly range: number;
  private lastCut = 0;
  private x = 0;
  /** Global offset where the rolling hash resumes. */
  private ptr = 0;
  /** Global offset of the first byte of the next block to be fed. */
  private offset = 0;

  constructor(sizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
    if (!(sizes.min >= WINDOW && sizes.min < sizes.avg && sizes.avg < sizes.max)) {
      throw new RangeError(`chunk sizes must satisfy ${WINDOW} <= min < avg < max`);
    }
    this.sizes = sizes;
    this.threshold = Math.floor(0xffffffff / sizes.avg) | 0;
    this.low = (MAGIC - this.threshold + 1) >>> 0;
    this.range = 2 * this.threshold - 1;
  }

  /** Whether a file of `size` bytes is a chunking candidate at all (`MightFindChunks`). */
  mightFindChunks(size: number): boolean {
    return size > this.sizes.min;
  }

  /** Feeds the next block; returns the global offsets of the cut marks found in it, ascending. */
  feed(block: Uint8Array): number[] {
    const cuts: number[] = [];
    const end = this.offset + block.length;
    for (;;) {
      const start = Math.max(this.lastCut + this.sizes.min - WINDOW, this.ptr);
      if (start >= end) {
        this.ptr = start;
        break;
      }
      let i = start - this.offset;
      let x = this.x;
      // Warm-up: the 32 bytes before the minimum chunk size only feed the window.
      const warmEnd = Math.min(this.lastCut + this.sizes.min - this.offset, block.length);
      for (; i < warmEnd; i++) x = ((x << 1) ^ (block[i] as number)) | 0;
      const maxEnd = this.lastCut + this.sizes.max - this.offset;
      const computeEnd = Math.min(maxEnd, block.length);
      let cutAt = -1;
      const { low, range } = this;
      // The hot loop of large files: one shift, xor and unsigned compare per byte. x === -1 is
      // the C++'s abs(INT32_MIN), which wraps to a negative value and so is below the threshold.
      for (; i < computeEnd; i++) {
        x = ((x << 1) ^ (block[i] as number)) | 0;
        if ((x - low) >>> 0 < range || x === -1) {
          cutAt = i;
          break;
        }
      }
      if (cutAt < 0 && i === maxEnd) cutAt = i;
      if (cutAt >= 0) {
        const global = cutAt + this.offset;
        cuts.push(global);
        this.lastCut = global;
        this.ptr = global;
        this.x = 0;
        continue;
      }
      this.x = x;
      this.ptr = i + this.offset;
      break;
    }
    this.offset = end;
    return cuts;
  }
}
