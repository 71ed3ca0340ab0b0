import type { ObjectStore } from '../storage/index.js';

/**
 * Where a repository is read from: its served files by key (`.cvmfspublished`, `data/ab/…C`),
 * over HTTP or from a local directory or store. Readers verify what they fetch; a source only
 * transports bytes.
 */
export interface RepositorySource {
  /** The URL or directory, for messages. */
  readonly location: string;
  /** The bytes of `key`; OBJECT_NOT_FOUND if the source answers that it has none, FETCH_FAILED otherwise. */
  fetch(key: string): Promise<Buffer>;
  /** Like fetch, but undefined when the key is absent. */
  fetchOptional(key: string): Promise<Buffer | undefined>;
}

/** A source backed by an ObjectStore (a local repository directory, S3, memory). */
export function storeSource(store: ObjectStore, location: string): RepositorySource {
  return {
    location,
    fetch: (key) => store.get(key),
    fetchOptional: async (key) => {
      try {
        return await store.get(key);
      } catch (err) {
        if ((err as { code?: string }).code === 'OBJECT_NOT_FOUND') return undefined;
        throw err;
      }
    },
  };
}
