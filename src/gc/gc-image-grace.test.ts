import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { S_IFMT, S_IFREG } from '../catalog/index.js';
import { pull } from '../client/index.js';
import { buildImage, withPublisher as withRepository } from '../image/image-test-support.js';
import { addImage, RegistryClient, removeImage } from '../image/index.js';
import { objectPath } from '../object/index.js';
import type { Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { startRegistry, type TestRegistry } from '../testing/registry.js';
import { tempDir } from '../testing/temp-dir.js';
import { collectGarbage, type GcReport } from './gc.js';
import {
  assertKeptWhole,
  assertNoGarbage,
  assertRepoConformant,
  initTestRepo,
  keptRoots,
  storedObjects,
  type TestRepo,
} from './gc-test-support.js';

const FQRN = 'imagegrace.example.org';
const DAY = 86400;

/**
 * Flat roots that no image names any more leave the tree only after the grace (images.graceDays,
 * 7 here), counted from the first gc that finds them unnamed, and their objects go with the
 * revisions that still held them. Real images: built with umoci, served by docker-registry.
 */
describe('gc: flat roots nothing names go after the grace', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const layout = path.join(tmp.dir, 'layout');
  const t0 = Math.floor(Date.now() / 1000);
  let registry: TestRegistry;
  let repo: TestRepo;
  const client = new RegistryClient({ retries: 0 });
  const roots: Record<string, string> = {};

  const withPublisher = <T>(use: (p: Publisher) => Promise<T>): Promise<T> => withRepository(data, FQRN, use);
  const add = (ref: string) =>
    withPublisher(async (p) => (await addImage(p, `${registry.host}/${ref}`, { client })).image?.root);
  const rm = (ref: string) => withPublisher((p) => removeImage(p, `${registry.host}/${ref}`));
  const gc = (at: number, dryRun = false): Promise<GcReport> =>
    collectGarbage({ dataDir: data, fqrn: FQRN, now: at, dryRun, retention: { revisions: 1, days: 0 } });
  const openReader = async () =>
    RepositoryReader.open(await openSource(repo.served), { publicKeysPem: [readFileSync(repo.pub, 'utf8')] });
  /** The object keys of a flat root's own catalogs and its files' content. */
  const rootObjects = async (root: string): Promise<string[]> => {
    const reader = await openReader();
    try {
      const keys = new Set<string>();
      for await (const d of reader.walk(root))
        if ((d.mode & S_IFMT) === S_IFREG && d.name === '.nonce' && d.hash) keys.add(objectPath(d.hash, ''));
      for await (const c of reader.catalogTree())
        if (c.mountpoint === root) keys.add(objectPath(c.hash, 'C'));
      return [...keys];
    } finally {
      await reader.close();
    }
  };
  const inTree = async (p: string): Promise<boolean> => {
    const reader = await openReader();
    try {
      return (await reader.lookup(p)) !== undefined;
    } finally {
      await reader.close();
    }
  };
  const stateRows = (sql: string): unknown[] => {
    const db = new Database(path.join(repo.state, 'images.db'), { readonly: true });
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  };

  before(async () => {
    registry = await startRegistry(path.join(tmp.dir, 'registry'));
    buildImage(layout, 'app', { 'app/run.sh': '#!/bin/sh\necho app\n' });
    buildImage(layout, 'other', { 'other/data.txt': 'other image\n'.repeat(50) });
    buildImage(layout, 'moving1', { 'moving/version': '1\n' });
    buildImage(layout, 'moving2', { 'moving/version': '2\n' });
    await registry.push(layout, 'app', 'grace/app:1');
    await registry.push(layout, 'app', 'grace/app:same');
    await registry.push(layout, 'other', 'grace/other:1');
    await registry.push(layout, 'moving1', 'grace/moving:1');
    repo = initTestRepo(data, FQRN);
    for (const ref of ['grace/app:1', 'grace/app:same', 'grace/other:1', 'grace/moving:1'])
      roots[ref] = (await add(ref)) as string;
  });
  after(async () => {
    client.close();
    await registry?.stop();
    tmp.cleanup();
  });

  it('a root another tag still names stays; the last tag removed starts its grace', async () => {
    assert.equal(roots['grace/app:1'], roots['grace/app:same'], 'one image, two tags, one root');
    await rm('grace/app:same');
    const first = await gc(t0);
    assert.deepEqual(first.imageRootsRemoved, []);
    assert.deepEqual(first.imageRootsKept, [], 'grace/app:1 still names the root');
    assert.ok(await inTree(roots['grace/app:1'] as string));

    await rm('grace/app:1');
    const second = await gc(t0 + DAY);
    assert.deepEqual(second.imageRootsRemoved, []);
    assert.deepEqual(
      second.imageRootsKept.map((k) => [k.root, k.days]),
      [[roots['grace/app:1'], 0]],
    );
    assert.ok(await inTree(roots['grace/app:1'] as string), 'still there for running jobs');
    await assertKeptWhole(repo, keptRoots(second));
  });

  it('a tag whose digest changed leaves its old root unnamed; it too waits for the grace', async () => {
    await registry.push(layout, 'moving2', 'grace/moving:1');
    roots.moved = (await add('grace/moving:1')) as string;
    assert.notEqual(roots.moved, roots['grace/moving:1']);
    const report = await gc(t0 + 2 * DAY);
    assert.deepEqual(report.imageRootsRemoved, []);
    const kept = new Map(report.imageRootsKept.map((k) => [k.root, k.days]));
    assert.equal(kept.get(roots['grace/app:1'] as string), 1, 'unnamed since the gc of day 1');
    assert.equal(kept.get(roots['grace/moving:1'] as string), 0);
    assert.ok(await inTree(roots['grace/moving:1'] as string));
  });

  it('a dry run past the grace reports the roots and changes nothing', async () => {
    const manifest = readFileSync(path.join(repo.served, '.cvmfspublished'));
    const objects = storedObjects(repo.served);
    const state = JSON.stringify(stateRows('SELECT * FROM made_roots ORDER BY root'));
    const report = await gc(t0 + 10 * DAY, true);
    assert.equal(report.dryRun, true);
    assert.deepEqual(
      report.imageRootsRemoved.sort(),
      [roots['grace/app:1'], roots['grace/moving:1']].sort(),
      'unnamed since days 1 and 2: past the 7 days',
    );
    assert.deepEqual(report.imageRootsKept, []);
    assert.ok(report.objectsDeleted > 0, 'the sweep it plans includes what the roots held');
    assert.deepEqual(readFileSync(path.join(repo.served, '.cvmfspublished')), manifest);
    assert.deepEqual(storedObjects(repo.served), objects);
    assert.equal(JSON.stringify(stateRows('SELECT * FROM made_roots ORDER BY root')), state);
  });

  it('past the grace the roots leave the tree, their objects go, every other image is intact', async () => {
    const app = roots['grace/app:1'] as string;
    const old = roots['grace/moving:1'] as string;
    const doomed = [...(await rootObjects(app)), ...(await rootObjects(old))];
    assert.equal(doomed.length, 4, 'a catalog and a nonce file each');
    const report = await gc(t0 + 10 * DAY);
    assert.deepEqual(report.imageRootsRemoved.sort(), [app, old].sort());
    assert.deepEqual(report.imageRootsKept, []);
    assert.equal(typeof report.retentionRevision, 'number');
    const parents = new Set(
      [roots['grace/other:1'], roots.moved].map((r) => path.posix.dirname(r as string)),
    );
    for (const root of [app, old]) {
      assert.equal(await inTree(root), false, `${root} left the tree`);
      // (Unless a root still named shares the first two hex digits.)
      if (!parents.has(path.posix.dirname(root)))
        assert.equal(await inTree(path.posix.dirname(root)), false, 'its empty /.flat/<xx> too');
    }
    const stored = storedObjects(repo.served);
    assert.deepEqual(
      doomed.filter((k) => stored.has(k)),
      [],
      'their objects are deleted by the same gc',
    );
    assertNoGarbage(repo, keptRoots(report));
    await assertKeptWhole(repo, keptRoots(report));
    assertRepoConformant(repo);
    // The image state names only the roots left: the chain hints and the made roots.
    const left = [roots['grace/other:1'], roots.moved].sort();
    for (const table of ['flat_roots', 'made_roots'])
      assert.deepEqual(
        stateRows(`SELECT DISTINCT root FROM ${table} ORDER BY root`).map(
          (r) => (r as { root: string }).root,
        ),
        left,
        table,
      );
    // The images still named read back whole.
    const reader = await openReader();
    try {
      for (const [link, file, content] of [
        ['grace/other:1', 'other/data.txt', 'other image\n'.repeat(50)],
        ['grace/moving:1', 'moving/version', '2\n'],
      ] as const) {
        const target = await reader.lookup(`/${registry.host}/${link}`);
        assert.ok(target?.symlink, `${link} is still linked`);
        const root = path.posix.join(`/${registry.host}/grace`, target.symlink as string);
        const out = path.join(tmp.dir, `pulled-${link.replace(/[/:]/g, '-')}`);
        await pull(reader, out, { path: root, owners: false });
        assert.equal(readFileSync(path.join(out, file), 'utf8'), content);
      }
    } finally {
      await reader.close();
    }
  });
});
