import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { S_IFMT, S_IFREG } from '../catalog/index.js';
import { objectPath } from '../object/index.js';
import { Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { runBarge } from '../testing/run-barge.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { parseUploadId } from '../usercode/upload-id.js';
import { UploadService } from '../usercode/upload-service.js';
import type { GcReport } from './gc.js';
import {
  assertKeptWhole,
  assertNoGarbage,
  assertRepoConformant,
  initTestRepo,
  keptRoots,
  manifestFields,
  runGc,
  storedObjects,
  type TestRepo,
} from './gc-test-support.js';

const FQRN = 'gcretention.example.org';
const DAY = 86400;
const RETAIN = ['--keep-revisions', '1', '--keep-days', '0'];

async function* body(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** A tarball of files with contents nobody else has (seeded). */
function tarball(label: string): Buffer {
  const r = new SeededRandom('retention', label);
  return buildTar([
    { name: 'bin/', type: '5', mode: 0o755 },
    { name: 'bin/run.sh', mode: 0o755, content: `#!/bin/sh\necho ${label}\n` },
    { name: 'data.bin', mode: 0o644, content: r.bytes(3000) },
    { name: 'big.bin', mode: 0o644, content: r.bytes(100_000) },
  ]);
}

/** Publishes `files` (path -> content) as the tree at `at`. */
async function publishTree(repo: TestRepo, dir: string, at: string, files: Record<string, Buffer | string>) {
  rmSync(dir, { recursive: true, force: true });
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), content);
  }
  const publisher = await Publisher.open(repo.data, repo.fqrn);
  try {
    return await publisher.publishDirectory(dir, at);
  } finally {
    await publisher.close();
  }
}

async function openReader(repo: TestRepo): Promise<RepositoryReader> {
  return RepositoryReader.open(await openSource(repo.served), {
    publicKeysPem: [readFileSync(repo.pub, 'utf8')],
  });
}

/** Every object key (catalogs, files, chunks; not the shared empty marker) of the subtree at `at` of a revision. */
async function subtreeObjects(reader: RepositoryReader, at: string): Promise<string[]> {
  const keys = new Set<string>();
  for await (const d of reader.walk(at)) {
    // Catalog markers are empty files: one object every catalog shares.
    if ((d.mode & S_IFMT) !== S_IFREG || d.name === '.cvmfscatalog') continue;
    if (d.hash) keys.add(objectPath(d.hash, ''));
    for (const c of d.chunks) keys.add(objectPath(c.hash, 'P'));
  }
  for await (const c of reader.catalogTree())
    if (c.mountpoint === at || c.mountpoint.startsWith(`${at}/`)) keys.add(objectPath(c.hash, 'C'));
  return [...keys];
}

/** The content of a file of a revision, or undefined. */
async function readFile(reader: RepositoryReader, p: string): Promise<Buffer | undefined> {
  const d = await reader.lookup(p);
  if (!d) return undefined;
  if (d.hash) return reader.fetchObject(d.hash, '');
  return Buffer.concat(await Promise.all(d.chunks.map((c) => reader.fetchObject(c.hash, 'P'))));
}

/** Every file of a directory tree with its sha1, for byte-identity checks. */
function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const p = path.join(rel, name);
      if (statSync(path.join(dir, p)).isDirectory()) walk(p);
      else
        out.set(
          p,
          createHash('sha1')
            .update(readFileSync(path.join(dir, p)))
            .digest('hex'),
        );
    }
  };
  walk('');
  return out;
}

/** The rows of every table of a state database (ledger.db, uploads.db). */
function dumpDb(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[];
    return JSON.stringify(tables.map((t) => [t.name, db.prepare(`SELECT * FROM "${t.name}"`).all()]));
  } finally {
    db.close();
  }
}

const numbers = (r: GcReport) => ({
  uploadsExpired: [...r.uploadsExpired].sort(),
  pinnedKept: [...r.pinnedKept].sort(),
  revisionsDropped: r.revisionsDropped,
  catalogsDeleted: r.catalogsDeleted,
  objectsDeleted: r.objectsDeleted,
  bytesFreed: r.bytesFreed,
});

describe('gc retention: pins, tags, expiry, dry runs and reasons', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  let repo: TestRepo;
  let clock = Math.floor(Date.now() / 1000);
  let service: UploadService;

  const upload = async (label: string, ageDays: number) => {
    const tar = tarball(label);
    const id = parseUploadId(`dune/${createHash('sha256').update(tar).digest('hex')}`);
    clock = Math.floor(Date.now() / 1000) - ageDays * DAY;
    await service.publish(id, body(tar), 'test');
    return { id, path: `/user/${id.cid}` };
  };

  before(async () => {
    repo = initTestRepo(data, FQRN, { uploads: true });
    service = await UploadService.open({ dataDir: data, now: () => clock, gatherMs: 5 });
  });
  after(async () => {
    await service?.close();
    tmp.cleanup();
  });

  it('keeps pinned uploads and tagged revisions through every gc, and says why', async () => {
    const pinned = await upload('pinned', 90);
    service.setPinned(pinned.id, true);
    const released = { 'lib/v1.so': new SeededRandom('retention', 'v1').bytes(5000), README: 'v1\n' };
    await publishTree(repo, src, '/sw', released);
    const tagger = await Publisher.open(data, FQRN, 'tag');
    await tagger.tag('release-1');
    const taggedRoot = tagger.manifest.rootHash;
    await tagger.close();
    const reader = await openReader(repo);
    const taggedObjects = await subtreeObjects(reader.atRoot(taggedRoot), '/sw');
    const pinnedObjects = await subtreeObjects(reader, pinned.path);
    await reader.close();
    for (let i = 0; i < 3; i++) {
      // Each round replaces /sw: the tagged files live only in the tagged revision.
      await publishTree(repo, src, '/sw', { [`lib/v${i + 2}.so`]: `round ${i}\n` });
      await publishTree(repo, src, '/sw', { [`lib/v${i + 2}.so`]: `round ${i}, fixed\n` });
      const report = runGc(repo, RETAIN);
      assert.ok(report.revisionsDropped.length > 0, 'gc dropped revisions');
      assert.deepEqual(report.pinnedKept, [pinned.id.cid], 'the pinned upload is reported kept');
      assert.deepEqual(report.uploadsExpired, []);
      const tagged = report.kept.find((k) => k.root === taggedRoot);
      assert.ok(
        tagged?.why.includes('tag release-1'),
        `the tag keeps its revision: ${JSON.stringify(report.kept)}`,
      );
      const stored = storedObjects(repo.served);
      assert.deepEqual(
        taggedObjects.filter((k) => !stored.has(k)),
        [],
        'tagged objects stay',
      );
      assert.deepEqual(
        pinnedObjects.filter((k) => !stored.has(k)),
        [],
        'pinned objects stay',
      );
      await assertKeptWhole(repo, keptRoots(report), `round ${i}`);
      assertNoGarbage(repo, keptRoots(report), `round ${i}`);
    }
    const after = await openReader(repo);
    assert.ok(
      await readFile(after, `${pinned.path}/big.bin`),
      'the pinned upload is in the current revision',
    );
    const old = after.atRoot(taggedRoot);
    assert.deepEqual(await readFile(old, '/sw/lib/v1.so'), released['lib/v1.so']);
    await after.close();
    assertRepoConformant(repo);
    // Untagged, the release goes at the next gc.
    const untagger = await Publisher.open(data, FQRN, 'tag');
    await untagger.untag('release-1');
    await untagger.close();
    const report = runGc(repo, RETAIN);
    assert.ok(!report.kept.some((k) => k.root === taggedRoot), 'the untagged revision is dropped');
    const stored = storedObjects(repo.served);
    assert.deepEqual(
      taggedObjects.filter((k) => stored.has(k)),
      [],
      'its objects are gone',
    );
    assertNoGarbage(repo, keptRoots(report), 'after untag');
  });

  it('removes expired content after one gc: the upload from the tree, its objects from the store', async () => {
    const idle = await upload('idle', 45);
    const fresh = await upload('fresh', 1);
    await publishTree(repo, src, '/sw', { 'lib/after-idle.so': 'after\n' });
    const reader = await openReader(repo);
    const idleObjects = await subtreeObjects(reader, idle.path);
    await reader.close();
    assert.ok(idleObjects.length >= 4, `the idle upload has objects: ${idleObjects}`);
    const report = runGc(repo, RETAIN);
    assert.deepEqual(report.uploadsExpired, [idle.id.cid]);
    assert.equal(report.retentionRevision, Number(manifestFields(repo.served).get('S')));
    const after = await openReader(repo);
    assert.equal(await after.lookup(idle.path), undefined, 'the expired upload left the tree');
    assert.ok(await readFile(after, `${fresh.path}/data.bin`), 'the fresh upload stays');
    await after.close();
    const stored = storedObjects(repo.served);
    assert.deepEqual(
      idleObjects.filter((k) => stored.has(k)),
      [],
      'its objects are gone after the same gc',
    );
    assert.equal(service.exists(idle.id, false).present, false);
    await assertKeptWhole(repo, keptRoots(report), 'after expiry');
    assertNoGarbage(repo, keptRoots(report), 'after expiry');
    assertRepoConformant(repo);
  });

  for (const withExpiry of [false, true]) {
    it(`--dry-run changes nothing and reports what the real run does${withExpiry ? ' (with an upload to expire)' : ''}`, async () => {
      if (withExpiry) await upload(`dry-${Date.now()}`, 60);
      for (let i = 0; i < 3; i++)
        await publishTree(repo, src, '/sw', { [`dry-${i}`]: `dry run ${i} ${withExpiry}\n` });
      const fingerprints = () => ({
        served: fingerprint(repo.served),
        ledger: dumpDb(path.join(repo.state, 'ledger.db')),
        uploads: dumpDb(path.join(repo.state, 'uploads.db')),
      });
      const before = fingerprints();
      const dry = runGc(repo, [...RETAIN, '--dry-run']);
      assert.equal(dry.dryRun, true);
      assert.deepEqual(fingerprints(), before, 'a dry run changes no file, ledger row or upload row');
      const real = runGc(repo, RETAIN);
      assert.ok(real.objectsDeleted > 0 && real.revisionsDropped.length > 0, 'there was garbage');
      assert.deepEqual(
        { ...numbers(dry), bytesFreed: 0 },
        { ...numbers(real), bytesFreed: 0 },
        'the dry run reported what the real run did',
      );
      // Exact, but for the retention revision's first history (replaced when gc drops the tag
      // trunk-previous), which a dry run cannot write and counts at the current history's size.
      const slack = withExpiry ? 64 : 0;
      assert.ok(
        Math.abs(dry.bytesFreed - real.bytesFreed) <= slack,
        `bytes freed: dry run ${dry.bytesFreed}, real run ${real.bytesFreed}`,
      );
      assert.deepEqual(
        dry.kept.filter((k) => k.revision !== real.retentionRevision).map((k) => k.revision),
        real.kept.filter((k) => k.revision !== real.retentionRevision).map((k) => k.revision),
        'the same revisions are kept',
      );
      assertNoGarbage(repo, keptRoots(real), 'after the real run');
    });
  }

  it('names why each revision is kept, in the report and on the terminal', async () => {
    await publishTree(repo, src, '/sw', { 'why-1': '1\n' });
    const tagger = await Publisher.open(data, FQRN, 'tag');
    await tagger.tag('why-tag');
    await tagger.close();
    await publishTree(repo, src, '/sw', { 'why-2': '2\n' });
    await publishTree(repo, src, '/sw', { 'why-3': '3\n' });
    const head = Number(manifestFields(repo.served).get('S'));
    const report = runGc(repo, ['--keep-revisions', '2', '--keep-days', '1']);
    const why = new Map(report.kept.map((k) => [k.revision, k.why]));
    assert.ok(why.get(head)?.includes('current revision'));
    assert.ok(why.get(head)?.includes('one of the newest 2'));
    assert.ok(why.get(head - 1)?.includes('one of the newest 2'));
    assert.ok(why.get(head - 2)?.includes('tag why-tag'));
    // Every revision published in this test is less than a day old.
    for (const [r, reasons] of why)
      assert.ok(reasons.includes('younger than 1 days'), `revision ${r}: ${reasons}`);
    const text = runBarge(['gc', FQRN, '--data', data, '--keep-revisions', '1', '--keep-days', '0']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`kept revision ${head}: current revision, one of the newest 1`));
    assert.match(text.stdout, /kept revision \d+: .*tag why-tag/);
    assert.match(text.stdout, /kept upload dune\/[0-9a-f]{64}: pinned/);
  });
});
