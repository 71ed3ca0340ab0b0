import { BargeError, isBargeError } from '../error/index.js';
import { HistoryDb, type Reference, ReflogDb } from '../history/index.js';
import { decompress, type HashText, objectPath, parseObjectPath } from '../object/index.js';
import type { LedgerRevision, Publisher } from '../publish/index.js';
import type { RebuildScratch } from './rebuild-scratch.js';

/** What the walk over every existing revision found. */
export interface Found {
  /** History, certificate and meta-info keys revisions name: not orphans. */
  named: Set<string>;
  /** What the reflog must record. */
  reflog: Reference[];
  pinned: HashText[];
  unreadable: HashText[];
  dropped: HashText[];
}

/**
 * Counts every existing revision into the scratch ledger, the served one first and its
 * previous_revision chain next, so that they own their revision numbers; then tags and the
 * reflog's roots, each followed down its own chain until a root catalog is missing.
 */
export async function countRevisions(
  publisher: Publisher,
  scratch: RebuildScratch,
  say: (line: string) => void,
): Promise<Found> {
  const m = publisher.manifest;
  const headCertificate = objectPath(m.certificate, 'X');
  const found: Found = {
    named: new Set([headCertificate]),
    reflog: [],
    pinned: [],
    unreadable: [],
    dropped: [],
  };
  const meta: [HashText | undefined, 'history' | 'metainfo', 'H' | 'M'][] = [
    [m.history, 'history', 'H'],
    [m.metainfo, 'metainfo', 'M'],
  ];
  found.reflog.push({ hash: m.certificate, type: 'certificate', timestamp: m.timestamp });
  for (const [hash, type, suffix] of meta) {
    if (!hash) continue;
    found.named.add(objectPath(hash, suffix));
    found.reflog.push({ hash, type, timestamp: m.timestamp });
  }
  const known = await knownRoots(publisher);
  const taken = new Set<number>();
  const seen = new Set<HashText>();

  /** Counts `start` and its previous revisions; `required` roots must be whole (else throw). */
  const visit = async (start: HashText, origin: string, required: boolean) => {
    let hash: HashText | null = start;
    for (let first = true; hash && !seen.has(hash); first = false) {
      seen.add(hash);
      const what = first ? origin : `previous revision of ${origin}`;
      let root: Awaited<ReturnType<Publisher['loadCatalog']>>;
      try {
        root = await publisher.loadCatalog(hash, '');
      } catch (err) {
        // A tag may name a root that is gone (the checker reports it); a damaged one stops us.
        const missing = isBargeError(err, 'OBJECT_NOT_FOUND');
        if (first && required && (!missing || hash === m.rootHash)) throw unreadable(err, what);
        if (!missing) {
          found.unreadable.push(hash);
          say(`left out root catalog ${hash} (${what}): ${(err as Error).message}`);
        } else if (first && origin !== 'the reflog') {
          say(`${what} names root catalog ${hash}, which does not exist`);
        }
        return; // the chain ends at a missing root
      }
      try {
        const revision = hash === m.rootHash ? m.revision : root.revision;
        const previous = root.previousRevision;
        const timestamp = root.lastModified;
        // Dropping is final: a root an earlier gc dropped but had not deleted yet (it was killed)
        // may have lost objects already, and must not come back. A tag or the served root wins.
        if (!(first && required) && known.get(hash)?.dropped) {
          found.dropped.push(hash);
          say(`left out revision ${revision} (${what}): dropped by an earlier gc`);
          hash = previous;
          continue;
        }
        try {
          const read = await scratch.addTree(root, hash, publisher.loadCatalog);
          say(`revision ${revision} (${what}): ${read} new catalog(s)`);
        } catch (err) {
          if (first && required) throw unreadable(err, `revision ${revision} (${what})`);
          found.unreadable.push(hash);
          say(`left out revision ${revision} (${what}): ${(err as Error).message}`);
          hash = previous;
          continue;
        }
        found.reflog.push({ hash, type: 'catalog', timestamp });
        // Revision numbers are the ledger's keys and its newest must be the served one.
        if (hash === m.rootHash || (revision < m.revision && !taken.has(revision))) {
          taken.add(revision);
          const k = known.get(hash);
          const row = {
            revision,
            root: hash,
            timestamp,
            history: hash === m.rootHash ? (m.history ? objectPath(m.history, 'H') : '') : (k?.history ?? ''),
            certificate: hash === m.rootHash ? headCertificate : k?.certificate || headCertificate,
          };
          scratch.addRevision(row);
          for (const key of [row.history, row.certificate]) if (key) found.named.add(key);
        } else {
          found.pinned.push(hash);
          say(`root catalog ${hash} (${what}) claims revision ${revision}, taken: kept without a revision`);
        }
        hash = previous;
      } finally {
        root.close();
      }
    }
  };

  await visit(m.rootHash, 'the served revision', true);
  for (const tag of await currentTags(publisher)) await visit(tag.hash, `tag ${tag.name}`, true);
  for (const hash of await reflogRoots(publisher)) await visit(hash, 'the reflog', false);
  // History and certificate objects the old ledger named for kept revisions go in the reflog too.
  for (const key of found.named) {
    const p = parseObjectPath(key);
    if (p?.suffix === 'H') found.reflog.push({ hash: p.hash, type: 'history', timestamp: m.timestamp });
    if (p?.suffix === 'X') found.reflog.push({ hash: p.hash, type: 'certificate', timestamp: m.timestamp });
  }
  return found;
}

/** What the old ledger says about a root. */
interface Known {
  history: string;
  certificate: string;
  dropped: boolean;
}

/**
 * What the old ledger recorded for each root, if it is readable: the history and certificate
 * keys (when those objects still exist), so that a rebuild does not forget them, and whether a
 * gc dropped it. Only keys of the right kind count; the old ledger is a hint, never an authority:
 * it can only keep an H or X object, or let an already dropped revision stay dropped.
 */
async function knownRoots(publisher: Publisher): Promise<Map<HashText, Known>> {
  const out = new Map<HashText, Known>();
  let rows: LedgerRevision[];
  try {
    rows = publisher.ledger.revisions(['pending', 'committed', 'dropped']);
  } catch {
    return out;
  }
  const ok = async (key: string, suffix: 'H' | 'X') =>
    parseObjectPath(key)?.suffix === suffix && (await publisher.store.has(key)) ? key : '';
  for (const r of rows) {
    out.set(r.root, {
      history: await ok(r.history, 'H'),
      certificate: await ok(r.certificate, 'X'),
      dropped: r.state === 'dropped',
    });
  }
  return out;
}

/** Tags of the served history database (trunk and trunk-previous included). */
async function currentTags(publisher: Publisher): Promise<{ name: string; hash: HashText }[]> {
  const h = publisher.manifest.history;
  if (!h) return [];
  const key = objectPath(h, 'H');
  const db = HistoryDb.open(await decompress(await publisher.store.get(key), key));
  try {
    return db.tags().map((t) => ({ name: t.name, hash: t.hash }));
  } finally {
    db.close();
  }
}

/** Root catalogs the reflog records; none if it is missing or unreadable (it is rebuilt later). */
async function reflogRoots(publisher: Publisher): Promise<HashText[]> {
  const bytes = await publisher.store.get('.cvmfsreflog').catch(() => undefined);
  if (!bytes) return [];
  let reflog: ReflogDb;
  try {
    reflog = ReflogDb.open(bytes);
  } catch {
    return [];
  }
  try {
    return reflog.list('catalog').map((r) => r.hash);
  } finally {
    reflog.close();
  }
}

/** A served or tagged revision that cannot be read whole: nothing is changed. */
function unreadable(err: unknown, what: string): BargeError {
  const code = isBargeError(err) ? err.code : 'OBJECT_CORRUPT';
  return new BargeError(code, `${what} cannot be read completely: ${(err as Error).message}`, {
    hint: 'restore the missing or damaged object (from a backup or a stratum 1), check with barge fsck, then rebuild again; nothing was changed',
    cause: err,
  });
}
