/**
 * For this folder's tests only (not exported): repositories set up for gc tests, and the checks
 * every gc test makes. What a repository reaches is computed here from the served files alone,
 * reading catalogs and histories with SQLite and zlib directly, never with barge's catalog code or
 * the ledger, so that a bug there cannot hide itself.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { gcCommand } from '../cli/gc-command.js';
import { fsck, openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant, CONFORMANCE_TOOL } from '../testing/conformance.js';
import { runBarge } from '../testing/run-barge.js';
import type { GcReport } from './gc.js';

/** One repository of a test data directory. */
export interface TestRepo {
  data: string;
  fqrn: string;
  served: string;
  state: string;
  pub: string;
}

/** The paths of `fqrn` under `data`. */
export function testRepo(data: string, fqrn: string): TestRepo {
  return {
    data,
    fqrn,
    served: path.join(data, 'repos', fqrn),
    state: path.join(data, 'state', fqrn),
    pub: path.join(data, 'keys', `${fqrn}.pub`),
  };
}

/**
 * `barge init`, then settings that keep tests fast and small: no fsync (a kill -9 loses nothing the
 * kernel holds), chunks of 16-64 KiB so that chunked files stay small, uploads on request.
 */
export function initTestRepo(data: string, fqrn: string, options: { uploads?: boolean } = {}): TestRepo {
  const repo = testRepo(data, fqrn);
  const init = runBarge(['init', fqrn, '--data', data]);
  assert.equal(init.status, 0, init.stderr);
  if (options.uploads) {
    const enabled = runBarge(['uploads', 'enable', fqrn, '--data', data]);
    assert.equal(enabled.status, 0, enabled.stderr);
  }
  const file = path.join(repo.state, 'repository.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.durable = false;
  config.chunkSizes = { min: 16 << 10, avg: 32 << 10, max: 64 << 10 };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return repo;
}

/** Runs `barge gc --json` with `args`, failing the test unless it exits 0. */
export function runGc(repo: TestRepo, args: string[], env: Record<string, string> = {}): GcReport {
  const r = runBarge(['gc', repo.fqrn, '--data', repo.data, '--json', ...args], env);
  assert.equal(r.status, 0, `barge gc ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as GcReport;
}

/** Runs `barge gc --json` in this process (the CLI's own code, without a process start). */
export async function gcCommandInProcess(repo: TestRepo, args: string[]): Promise<GcReport> {
  const out: string[] = [];
  const status = await gcCommand(['--data', repo.data, '--json', repo.fqrn, ...args], {
    out: (line) => out.push(line),
    err: (line) => out.push(line),
  });
  assert.equal(status, 0, out.join('\n'));
  return JSON.parse(out.join('\n')) as GcReport;
}

/** Every object file of a served repository (`data/xx/…`), staging (`data/txn`) left out. */
export function storedObjects(served: string): Set<string> {
  const out = new Set<string>();
  for (const dir of readdirSync(path.join(served, 'data'))) {
    if (dir === 'txn') continue;
    for (const name of readdirSync(path.join(served, 'data', dir))) out.add(`data/${dir}/${name}`);
  }
  return out;
}

/** The served manifest's fields (one letter each), read by hand. */
export function manifestFields(served: string): Map<string, string> {
  const text = readFileSync(path.join(served, '.cvmfspublished'), 'latin1');
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '--') break;
    if (line.length > 1) fields.set(line[0] as string, line.slice(1));
  }
  return fields;
}

const key = (hash: string, suffix: string) => `data/${hash.slice(0, 2)}/${hash.slice(2)}${suffix}`;

/** Opens a compressed SQLite object (catalog, history) of the served directory. */
function openObject(served: string, objectKey: string): Database.Database {
  return new Database(inflateSync(readFileSync(path.join(served, objectKey))));
}

/** Root catalog hashes the history object `h` tags, by tag name. */
export function historyTags(served: string, h: string): Map<string, string> {
  const db = openObject(served, key(h, 'H'));
  try {
    const rows = db.prepare('SELECT name, hash FROM tags').all() as { name: string; hash: string }[];
    return new Map(rows.map((r) => [r.name, r.hash]));
  } finally {
    db.close();
  }
}

/**
 * What the given root catalogs reach (their catalogs, nested catalogs, file objects and chunks),
 * plus the current manifest's root, history, certificate and meta-info; `missing` lists what one of
 * them names and the store lacks. sha1 repositories only (hash blobs read as plain hex).
 */
export function reachableObjects(
  served: string,
  roots: Iterable<string>,
): { keys: Set<string>; missing: string[] } {
  const m = manifestFields(served);
  const keys = new Set<string>();
  const missing: string[] = [];
  for (const [letter, suffix] of [
    ['H', 'H'],
    ['X', 'X'],
    ['M', 'M'],
  ] as const) {
    const h = m.get(letter);
    if (h) keys.add(key(h, suffix));
  }
  const stack = [m.get('C') as string, ...roots];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const hash = stack.pop() as string;
    const k = key(hash, 'C');
    if (seen.has(k)) continue;
    seen.add(k);
    keys.add(k);
    let db: Database.Database;
    try {
      db = openObject(served, k);
    } catch {
      missing.push(k);
      continue;
    }
    try {
      const hex = (rows: unknown[]) =>
        rows.map((r) => ((r as { hash: Buffer }).hash as Buffer).toString('hex'));
      for (const h of hex(db.prepare('SELECT hash FROM catalog WHERE hash IS NOT NULL').all()))
        keys.add(key(h, ''));
      for (const h of hex(db.prepare('SELECT hash FROM chunks').all())) keys.add(key(h, 'P'));
      for (const r of db.prepare('SELECT sha1 FROM nested_catalogs').all() as { sha1: string }[])
        stack.push(r.sha1);
    } finally {
      db.close();
    }
  }
  return { keys, missing };
}

/**
 * Checks that the store holds exactly what the kept revisions reach. Besides that, a kept revision
 * that is not the current one may keep the history object it was last served with (at most one per
 * revision: one whose trunk tag is its root); nothing else may remain. Every reference of the
 * reflog must exist (gc removes both together). Returns the stored object count.
 */
export function assertNoGarbage(repo: TestRepo, keptRoots: readonly string[], label = ''): number {
  const m = manifestFields(repo.served);
  const tags = m.get('H') ? historyTags(repo.served, m.get('H') as string) : new Map<string, string>();
  for (const [name, root] of tags) {
    assert.ok(keptRoots.includes(root), `${label}: tag ${name} (${root}) is not among the kept revisions`);
  }
  const { keys, missing } = reachableObjects(repo.served, keptRoots);
  assert.deepEqual(missing, [], `${label}: catalogs of kept revisions are missing`);
  const stored = storedObjects(repo.served);
  const absent = [...keys].filter((k) => !stored.has(k));
  assert.deepEqual(absent, [], `${label}: objects of kept revisions are missing`);
  const extra = [...stored].filter((k) => !keys.has(k));
  const historyOf = new Set<string>([m.get('C') as string]);
  const leftover: string[] = [];
  for (const k of extra) {
    if (k.endsWith('H')) {
      const trunk = historyTags(repo.served, `${k.slice(5, 7)}${k.slice(8, -1)}`).get('trunk');
      if (trunk && keptRoots.includes(trunk) && !historyOf.has(trunk)) {
        historyOf.add(trunk);
        continue;
      }
    }
    leftover.push(k);
  }
  assert.deepEqual(leftover.sort(), [], `${label}: objects no kept revision reaches remain`);
  assertReflogPresent(repo, stored, label);
  return stored.size;
}

/** Every reference of the reflog names an object that exists. */
export function assertReflogPresent(repo: TestRepo, stored = storedObjects(repo.served), label = ''): void {
  const db = new Database(readFileSync(path.join(repo.served, '.cvmfsreflog')));
  try {
    const suffix = ['C', 'X', 'H', 'M'];
    const refs = db.prepare('SELECT hash, type FROM refs').all() as { hash: string; type: number }[];
    const dangling = refs.map((r) => key(r.hash, suffix[r.type] ?? '?')).filter((k) => !stored.has(k));
    assert.deepEqual(dangling, [], `${label}: the reflog names objects that are gone`);
  } finally {
    db.close();
  }
}

/**
 * Reads every object of every kept revision back: each catalog, file object and chunk exists,
 * hashes to its name and inflates; then barge's fsck (current revision and tags) must pass.
 */
export async function assertKeptWhole(
  repo: TestRepo,
  keptRoots: readonly string[],
  label = '',
): Promise<void> {
  const { keys, missing } = reachableObjects(repo.served, keptRoots);
  assert.deepEqual(missing, [], `${label}: catalogs of kept revisions are missing`);
  const broken: string[] = [];
  for (const k of keys) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path.join(repo.served, k));
    } catch {
      broken.push(`${k}: missing`);
      continue;
    }
    const hash = `${k.slice(5, 7)}${k.slice(8).replace(/[CPHXM]$/, '')}`;
    if (createHash('sha1').update(bytes).digest('hex') !== hash) broken.push(`${k}: corrupt`);
    else {
      try {
        inflateSync(bytes);
      } catch {
        broken.push(`${k}: does not inflate`);
      }
    }
  }
  assert.deepEqual(broken, [], `${label}: objects of kept revisions are not whole`);
  const reader = await RepositoryReader.open(await openSource(repo.served), {
    publicKeysPem: [readFileSync(repo.pub, 'utf8')],
    fqrn: repo.fqrn,
  });
  try {
    const report = await fsck(reader);
    assert.deepEqual(report.problems, [], `${label}: barge fsck`);
  } finally {
    await reader.close();
  }
}

/** The kept revisions' roots of a gc report. */
export function keptRoots(report: GcReport): string[] {
  return report.kept.map((k) => k.root);
}

/**
 * Starts the strict conformance check of every revision on a copy of the served files as they are
 * now, so that the test goes on meanwhile; the promise fails with the checker's findings.
 */
export function checkConformanceLater(repo: TestRepo, copyDir: string, label: string): Promise<void> {
  // Hard links: gc unlinks files and writes new ones by rename, never in place.
  execFileSync('cp', ['-al', repo.served, copyDir]);
  const args = [
    CONFORMANCE_TOOL,
    copyDir,
    '--key',
    repo.pub,
    '--strict',
    '--max-per-rule',
    '5',
    '--all-revisions',
  ];
  return new Promise((resolve, reject) => {
    execFile('python3', args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${label}: cvmfs-conformance.py --strict failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** The strict conformance check of every revision, as a test assertion. */
export function assertRepoConformant(repo: TestRepo): void {
  assertConformant(repo.served, repo.pub);
}
