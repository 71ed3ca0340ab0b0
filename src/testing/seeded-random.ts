import { createCipheriv, createHash } from 'node:crypto';

/**
 * A deterministic source of bytes and numbers: AES-256-CTR over zeros, keyed by
 * sha256(seed, label). Fast enough for tens of megabytes of test data (about 1 GB/s) and, being
 * a cipher stream, incompressible. Each label is an independent stream, so adding an entry to a
 * test tree does not shift the content of the others.
 */
export class SeededRandom {
  private readonly cipher;

  constructor(seed: number | string, label = '') {
    const key = createHash('sha256').update(`barge-test-tree\0${seed}\0${label}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** The next `n` bytes of the stream. */
  bytes(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }

  /** A uniform integer in [0, n), for n up to 2^32 (modulo bias is irrelevant for tests). */
  int(n: number): number {
    return this.bytes(4).readUInt32BE() % n;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}
