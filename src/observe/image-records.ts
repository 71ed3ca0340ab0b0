import { type Dirent, S_IFDIR, S_IFMT, S_IFREG } from '../catalog/index.js';
import { METADATA_DIR } from '../image/index.js';
import type { HashText, ObjectSuffix } from '../object/index.js';
import type { RepositoryReader } from '../repository/index.js';
import type { ImageSyncRecord } from './stats-db.js';

/** One image of a repository as the dashboard lists it. */
export interface ImageView {
  reference: string;
  /** `linux/amd64`, or `multiarch` for an image with one root per platform. */
  platform: string;
  /** Architectures it has a root for. */
  architectures: string[];
  sourceDigest: string;
  manifestDigest: string | null;
  configDigest: string;
  root: string;
  layers: number;
  /** Compressed bytes of its layers, as the registry serves them. */
  layerBytes: number;
  /** Regular files and their bytes in its (main) flat root; null when the root is not its own catalog. */
  files: number | null;
  bytes: number | null;
  /** When its metadata was last written (a publish), or the last sync that succeeded, whichever is later. */
  lastSync: string;
  /** The last sync's outcome and error, when `barge images sync` recorded one. */
  syncStatus: ImageSyncRecord['status'] | null;
  error: { code: string; message: string } | null;
}

interface Record {
  reference: string;
  sourceDigest: string;
  manifestDigest: string | null;
  configDigest: string;
  platform: string;
  platforms?: { arch: string }[];
  layers?: { size: number }[];
  root: string;
}

/** Counters of flat roots by catalog hash: catalogs never change under their hash, so this never goes stale. */
const rootCounters = new Map<string, { files: number; bytes: number }>();

/**
 * The images of the revision `reader` reads, from the `barge.json` records under `/.metadata`
 * (what `barge images ls` lists through a publisher, read here without taking the repository
 * lock), with the last sync outcome of each from `syncs`.
 */
export async function listImageViews(
  reader: RepositoryReader,
  syncs: readonly ImageSyncRecord[],
): Promise<ImageView[]> {
  const top = await reader.lookup(METADATA_DIR);
  if (!top || (top.mode & S_IFMT) !== S_IFDIR) return [];
  const bySync = new Map(syncs.map((s) => [s.reference, s]));
  const out: ImageView[] = [];
  const stack = [METADATA_DIR];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const d of (await reader.catalogFor(dir)).list(dir)) {
      if ((d.mode & S_IFMT) === S_IFDIR) stack.push(d.path);
      if (d.name !== 'barge.json' || (d.mode & S_IFMT) !== S_IFREG) continue;
      const record = JSON.parse((await readContent(reader, d)).toString('utf8')) as Record;
      const counters = await countersOf(reader, record.root);
      const sync = bySync.get(record.reference);
      const written = d.mtime;
      const synced = Math.max(written, sync?.lastSuccessAt ?? 0);
      out.push({
        reference: record.reference,
        platform: record.platform,
        architectures: record.platforms
          ? record.platforms.map((p) => p.arch)
          : [record.platform.split('/').slice(1).join(':')],
        sourceDigest: record.sourceDigest,
        manifestDigest: record.manifestDigest,
        configDigest: record.configDigest,
        root: record.root,
        layers: record.layers?.length ?? 0,
        layerBytes: (record.layers ?? []).reduce((a, l) => a + l.size, 0),
        files: counters?.files ?? null,
        bytes: counters?.bytes ?? null,
        lastSync: new Date(synced * 1000).toISOString(),
        syncStatus: sync?.status ?? null,
        error: sync?.status === 'failed' ? sync.error : null,
      });
    }
  }
  // Images that only failed (never published) are listed too: their error is what matters.
  for (const s of syncs) {
    if (s.status !== 'failed' || out.some((i) => i.reference === s.reference)) continue;
    out.push({
      reference: s.reference,
      platform: '',
      architectures: [],
      sourceDigest: '',
      manifestDigest: null,
      configDigest: '',
      root: '',
      layers: 0,
      layerBytes: 0,
      files: null,
      bytes: null,
      lastSync: new Date(s.lastAt * 1000).toISOString(),
      syncStatus: s.status,
      error: s.error,
    });
  }
  return out.sort((a, b) => (a.reference < b.reference ? -1 : 1));
}

/** The content of a regular file (small: a metadata record). */
async function readContent(reader: RepositoryReader, d: Dirent): Promise<Buffer> {
  const parts: { hash: HashText; suffix: ObjectSuffix }[] = d.chunks.map((c) => ({
    hash: c.hash,
    suffix: 'P',
  }));
  if (parts.length === 0 && d.hash) parts.push({ hash: d.hash, suffix: '' });
  const data: Buffer[] = [];
  for (const p of parts) {
    data.push(
      d.uncompressed ? await reader.fetchRaw(p.hash, p.suffix) : await reader.fetchObject(p.hash, p.suffix),
    );
  }
  return Buffer.concat(data);
}

/**
 * Files and bytes below a flat root, from the statistics of its nested catalog. The catalog is
 * found through its parents' nested catalog lists and opened only if its hash is new: a flat
 * root's catalog can be tens of MB, its parents are small.
 */
async function countersOf(
  reader: RepositoryReader,
  root: string,
): Promise<{ files: number; bytes: number } | undefined> {
  let catalog = await reader.root();
  for (;;) {
    const nested = catalog.nestedCatalogs();
    const own = nested.find((n) => n.path === root);
    if (own) {
      let counters = rootCounters.get(own.hash);
      if (!counters) {
        const s = (await reader.catalog(own.hash, own.path)).statistics();
        counters = {
          files: s.self.regular + s.subtree.regular,
          bytes: s.self.file_size + s.subtree.file_size,
        };
        if (rootCounters.size > 10_000) rootCounters.clear();
        rootCounters.set(own.hash, counters);
      }
      return counters;
    }
    const next = nested.find((n) => root.startsWith(`${n.path}/`));
    if (!next) return undefined;
    catalog = await reader.catalog(next.hash, next.path);
  }
}
