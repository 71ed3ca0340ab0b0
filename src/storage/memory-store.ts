import { BargeError } from '../error/index.js';
import type { ObjectStore, PutOptions, StoredObject } from './object-store.js';

/** An in-memory store for tests and dry runs; the same contract as the others. */
export class MemoryObjectStore implements ObjectStore {
  readonly kind = 'memory';
  private readonly objects = new Map<string, Buffer>();

  async has(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async size(key: string): Promise<number | undefined> {
    return this.objects.get(key)?.length;
  }

  async get(key: string): Promise<Buffer> {
    const data = this.objects.get(key);
    if (!data) throw new BargeError('OBJECT_NOT_FOUND', `${key} is not in the memory store`);
    return Buffer.from(data);
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    if (options.ifAbsent && this.objects.has(key)) return false;
    this.objects.set(key, Buffer.from(data));
    return true;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for (const [key, data] of [...this.objects]) {
      if (key.startsWith(prefix)) yield { key, size: data.length };
    }
  }

  async flush(): Promise<void> {}
}
