import type { ObjectStore } from './object-store.js';

/** A store that can tell which of many keys are absent in fewer requests than one per key (S3). */
interface BulkChecker {
  missing(keys: readonly string[]): Promise<string[]>;
}

/**
 * The keys of `keys` that `store` does not hold. Asked 32 at a time, or in bulk where the store
 * can (the S3 store lists directories instead of one HEAD per key).
 */
export async function missingKeys(store: ObjectStore, keys: readonly string[]): Promise<string[]> {
  const bulk = (store as ObjectStore & Partial<BulkChecker>).missing;
  if (typeof bulk === 'function') return bulk.call(store, keys);
  const out: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      if (!(await store.has(key))) out.push(key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, keys.length) }, worker));
  return out;
}
