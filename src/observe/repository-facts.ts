import { existsSync } from 'node:fs';
import path from 'node:path';
import { BargeError, isBargeError } from '../error/index.js';
import { type Manifest, parseManifest, parseWhitelist, type Whitelist } from '../manifest/index.js';
import { type GcRun, Ledger, type RepositoryConfig } from '../publish/index.js';
import { isFqrn, repositoryPaths } from '../repository/index.js';
import { listRepositories } from '../server/index.js';
import { openServedStore } from './repository-store.js';

/** What the dashboard and the metrics read of a repository on every request: small files only. */
export interface RepositoryFacts {
  fqrn: string;
  manifest: Manifest;
  /** Undefined when the whitelist is missing or unreadable (then clients cannot mount either). */
  whitelist: Whitelist | undefined;
  /** Undefined for a repository this data directory does not write (a replica, a copied tree). */
  config: RepositoryConfig | undefined;
}

/** Repositories and replicas served from a data directory, by name. */
export async function repositoryNames(dataDir: string): Promise<string[]> {
  const doc = await listRepositories(path.join(path.resolve(dataDir), 'repos'));
  return [...doc.repositories, ...doc.replicas].map((r) => r.name).sort();
}

/** Reads the manifest, whitelist and settings of `fqrn`; REPO_NOT_FOUND when it has no manifest. */
export async function readFacts(dataDir: string, fqrn: string): Promise<RepositoryFacts> {
  if (!isFqrn(fqrn)) throw new BargeError('REPO_NOT_FOUND', `there is no repository '${fqrn}' here`);
  const { store, config, close } = await openServedStore(dataDir, fqrn);
  try {
    const manifestBytes = await store.get('.cvmfspublished').catch((err) => {
      if (!isBargeError(err, 'OBJECT_NOT_FOUND')) throw err;
      throw new BargeError('REPO_NOT_FOUND', `there is no repository '${fqrn}' here`, {
        hint: "list them at /api/v1/ui/repositories, or create one with 'barge init'",
      });
    });
    const whitelist = await store
      .get('.cvmfswhitelist')
      .then((b) => parseWhitelist(b))
      .catch(() => undefined);
    return { fqrn, manifest: parseManifest(manifestBytes), whitelist, config };
  } finally {
    close();
  }
}

/** What the gc ledger says about a repository's history. */
export interface LedgerFacts {
  /** Revisions signed and served through barge (all of them since init or a ledger rebuild). */
  publishes: number;
  /** gc runs, newest first (dry runs are not recorded). */
  gcRuns: GcRun[];
  /** The newest 200 revisions still kept (their catalogs are there to browse), newest first. */
  revisions: { revision: number; root: string; timestamp: number }[];
}

/**
 * Reads the gc ledger of `fqrn`, or undefined when it has none (a replica, a repository from
 * before the ledger). Opened per call: a ledger rebuild replaces the file, so a kept connection
 * could go on reading the old one.
 */
export function readLedger(dataDir: string, fqrn: string): LedgerFacts | undefined {
  const { state } = repositoryPaths(dataDir, fqrn);
  if (!existsSync(path.join(state, 'ledger.db'))) return undefined;
  const ledger = Ledger.open(state);
  try {
    // Dropped revisions were published too; pending ones never went out.
    const publishes = (
      ledger.db.prepare("SELECT count(*) AS n FROM revisions WHERE state != 'pending'").get() as { n: number }
    ).n;
    const revisions = ledger.db
      .prepare(
        "SELECT revision, root, timestamp FROM revisions WHERE state = 'committed' ORDER BY revision DESC LIMIT 200",
      )
      .all() as LedgerFacts['revisions'];
    return { publishes, gcRuns: ledger.gcRuns(100_000), revisions };
  } finally {
    ledger.close();
  }
}
