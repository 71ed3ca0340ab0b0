import { addCounters, type Counters } from '../catalog/index.js';
import type { HashText } from '../object/index.js';
import type { RepositoryReader } from './repository-reader.js';

/** What `barge info` reports about a repository. */
export interface RepositoryInfo {
  fqrn: string;
  revision: number;
  rootHash: HashText;
  /** Manifest T, ISO time. */
  published: string;
  whitelistExpires: string | undefined;
  garbageCollectable: boolean;
  ttl: number;
  tags: { name: string; revision: number; hash: HashText; timestamp: string; description: string }[];
  catalogs: { mountpoint: string; hash: HashText; size: number; entries: number }[];
  /** Entry counters of the whole revision (the root catalog's self + subtree). */
  counters: Counters;
  /** Distinct objects the revision references (catalogs, files, chunks) and the logical bytes of its files. */
  objects: number;
  logicalBytes: number;
}

/** Collects the facts of the current revision: manifest, whitelist, tags, catalogs, objects. */
export async function repositoryInfo(reader: RepositoryReader): Promise<RepositoryInfo> {
  const m = reader.manifest;
  const tags: RepositoryInfo['tags'] = [];
  const history = await reader.history();
  if (history) {
    for (const t of history.tags()) {
      tags.push({
        name: t.name,
        revision: t.revision,
        hash: t.hash,
        timestamp: new Date(t.timestamp * 1000).toISOString(),
        description: t.description,
      });
    }
    history.close();
  }
  const catalogs: RepositoryInfo['catalogs'] = [];
  const objects = new Set<string>();
  let counters: Counters | undefined;
  // Uncompressed catalog sizes come from where each catalog is referenced: B for the root,
  // nested_catalogs.size for the others.
  const sizes = new Map<HashText, number>([[m.rootHash, m.rootSize]]);
  for await (const { hash, mountpoint, catalog } of reader.catalogTree()) {
    for (const n of catalog.nestedCatalogs()) sizes.set(n.hash, n.size);
    catalogs.push({
      mountpoint: mountpoint || '/',
      hash,
      size: sizes.get(hash) ?? 0,
      entries: catalog.rowCount(),
    });
    objects.add(`${hash}C`);
    for (const ref of catalog.contentHashes()) objects.add(ref.hash + ref.suffix);
    if (mountpoint === '') {
      const s = catalog.statistics();
      counters = addCounters(s.self, s.subtree);
    }
  }
  return {
    fqrn: m.fqrn,
    revision: m.revision,
    rootHash: m.rootHash,
    published: new Date(m.timestamp * 1000).toISOString(),
    whitelistExpires: reader.whitelist?.expires.toISOString(),
    garbageCollectable: m.garbageCollectable,
    ttl: m.ttl,
    tags,
    catalogs,
    counters: counters as Counters,
    objects: objects.size,
    logicalBytes: (counters as Counters).file_size,
  };
}
