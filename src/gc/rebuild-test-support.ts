/**
 * Helpers of rebuild-ledger.test.ts: repositories driven through the CLI, and what a collected
 * repository must hold computed independently of the ledger.
 */
import assert from 'node:assert/strict';
import { chmod, cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  parseManifest,
  signManifest,
  writeRepositoryKeys,
} from '../manifest/index.js';
import { compressSync, hashBytes, objectPath } from '../object/index.js';
import { parseRepositoryConfig, writeRepositoryConfig } from '../publish/index.js';
import { RepositoryReader, storeSource } from '../repository/index.js';
import { FsObjectStore } from '../storage/index.js';
import { assertConformant } from '../testing/conformance.js';
import { FIXTURE_FQRN, FIXTURE_SERVED } from '../testing/fixture.js';
import { runBarge } from '../testing/run-barge.js';

/** The repository name of the tests. */
export const FQRN = 'rebuild.example.org';

/** A barge data directory with its repository's paths. */
export function layout(dir: string, fqrn = FQRN) {
  const data = path.join(dir, 'data');
  return {
    data,
    fqrn,
    served: path.join(data, 'repos', fqrn),
    state: path.join(data, 'state', fqrn),
    pub: path.join(data, 'keys', `${fqrn}.pub`),
    ledger: path.join(data, 'state', fqrn, 'ledger.db'),
  };
}
export type Layout = ReturnType<typeof layout>;

/** Runs the CLI on the layout's data directory. */
export function barge(l: Layout, ...args: string[]) {
  const r = runBarge([...args, '--data', l.data]);
  return { ...r, ok: r.status === 0 };
}

/** Runs the CLI with --json and parses its answer; fails the test on a non-zero exit. */
export function bargeJson<T>(l: Layout, ...args: string[]): T {
  const r = barge(l, ...args, '--json');
  assert.equal(r.status, 0, `barge ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** What `barge gc --json` reports, as far as the tests read it. */
export interface GcJson {
  revisionsDropped: number[];
  kept: { revision: number; root: string; why: string[] }[];
  objectsDeleted: number;
}

/** Revision timestamps run ahead of the clock when publishes come faster than one a second. */
export async function waitPastHead(l: Layout): Promise<void> {
  const t = parseManifest(await readFile(path.join(l.served, '.cvmfspublished'))).timestamp;
  while (Math.floor(Date.now() / 1000) <= t) await new Promise((r) => setTimeout(r, 100));
}

export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}

/** Every file under data/ (staging excluded). */
export async function storeKeys(served: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const o of new FsObjectStore(served).list('data/')) out.add(o.key);
  return out;
}

/**
 * What the kept revisions reach, walked independently of the ledger with RepositoryReader (trust
 * chain verified): their catalogs and content objects, plus the served certificate, history and
 * meta-info.
 */
export async function reachableKeys(l: Layout, roots: Iterable<string>): Promise<Set<string>> {
  const reader = await RepositoryReader.open(storeSource(new FsObjectStore(l.served), l.served), {
    publicKeysPem: [await readFile(l.pub, 'utf8')],
  });
  const m = reader.manifest;
  const out = new Set([objectPath(m.certificate, 'X')]);
  if (m.history) out.add(objectPath(m.history, 'H'));
  if (m.metainfo) out.add(objectPath(m.metainfo, 'M'));
  for (const root of roots) {
    for await (const { hash, catalog } of reader.atRoot(root).catalogTree()) {
      out.add(objectPath(hash, 'C'));
      for (const c of catalog.contentHashes()) out.add(objectPath(c.hash, c.suffix));
    }
  }
  await reader.close();
  return out;
}

/** Roots of the served revision and of every tag. */
export async function taggedRoots(l: Layout): Promise<Set<string>> {
  const tags = bargeJson<{ hash: string }[]>(l, 'tags', l.fqrn);
  const m = parseManifest(await readFile(path.join(l.served, '.cvmfspublished')));
  return new Set([m.rootHash, ...tags.map((t) => t.hash)]);
}

/** The ledger's tables as text rows, for comparisons. */
export function ledgerRows(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    const rows = (sql: string) => (db.prepare(sql).raw().all() as unknown[][]).map((r) => r.join(' '));
    return {
      revisions: rows(
        "SELECT revision, root, state FROM revisions WHERE state != 'dropped' ORDER BY revision",
      ),
      catalogs: rows('SELECT key, mountpoint, refs FROM catalogs ORDER BY key'),
      objects: rows('SELECT key, refs FROM objects ORDER BY key'),
      gcRuns: rows('SELECT started_at FROM gc_runs'),
      complete: db.prepare("SELECT value FROM meta WHERE key = 'complete'").pluck().get(),
    };
  } finally {
    db.close();
  }
}

/** History and certificate keys of the ledger's kept revisions. */
export function ledgerNamed(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare("SELECT history, certificate FROM revisions WHERE state != 'dropped'")
      .raw()
      .all() as string[][];
    return [...new Set(rows.flat().filter((k) => k !== ''))];
  } finally {
    db.close();
  }
}

export async function removeLedger(l: Layout): Promise<void> {
  for (const f of ['', '-wal', '-shm']) await rm(l.ledger + f, { force: true });
}

/** The assertions every collected repository must pass: fsck, the checker, nothing unreachable left. */
export async function assertCollected(l: Layout, kept: Iterable<string>): Promise<void> {
  const fsck = barge(l, 'fsck', l.fqrn);
  assert.equal(fsck.status, 0, fsck.stdout);
  assertConformant(l.served, l.pub, { allRevisions: true });
  // Histories and certificates the ledger knows kept revisions by (from before a rebuild) stay too.
  const named = ledgerNamed(l.ledger);
  assert.ok(named.every((k) => /[HX]$/.test(k)));
  const expected = new Set([...(await reachableKeys(l, kept)), ...named]);
  assert.deepEqual([...(await storeKeys(l.served))].sort(), [...expected].sort());
}

/** The fixture's files are read-only, as served; the copy must take new objects. */
export async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(p);
    else await chmod(p, 0o644);
  }
}

/**
 * The cvmfs_server fixture as a barge repository. Its private keys were never shipped, so the
 * trust chain is replaced as an operator moving to new keys would: new keys, the new certificate
 * as an X object, a whitelist for it and the manifest re-signed; catalogs, history, reflog and
 * objects stay exactly as cvmfs_server wrote them. The reflog does not know the new certificate.
 */
export async function writableFixture(dir: string): Promise<Layout> {
  const l = layout(dir, FIXTURE_FQRN);
  await cp(FIXTURE_SERVED, l.served, { recursive: true });
  await makeWritable(l.served);
  const keys = await generateRepositoryKeys(FIXTURE_FQRN);
  await writeRepositoryKeys(path.join(l.data, 'keys'), FIXTURE_FQRN, keys);
  await writeRepositoryConfig(l.state, parseRepositoryConfig({ fqrn: FIXTURE_FQRN, durable: false }));
  const cert = compressSync(Buffer.from(keys.certificatePem));
  const x = hashBytes(cert, 'sha1');
  const certFile = path.join(l.served, objectPath(x, 'X'));
  await mkdir(path.dirname(certFile), { recursive: true }); // cvmfs_server made only the directories it used
  await writeFile(certFile, cert);
  const now = new Date();
  const whitelist = createWhitelist(
    {
      fqrn: FIXTURE_FQRN,
      fingerprints: [certificateFingerprint(keys.certificatePem)],
      created: now,
      expires: new Date(now.getTime() + 30 * 86_400_000),
    },
    keys.masterKeyPem,
  );
  await writeFile(path.join(l.served, '.cvmfswhitelist'), whitelist);
  const old = parseManifest(await readFile(path.join(l.served, '.cvmfspublished')));
  const signed = signManifest(
    { ...old, certificate: x, timestamp: old.timestamp + 1 },
    keys.certificateKeyPem,
  );
  await writeFile(path.join(l.served, '.cvmfspublished'), signed);
  return l;
}
