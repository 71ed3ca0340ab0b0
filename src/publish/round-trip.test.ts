import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pull } from '../client/index.js';
import { decompressSync, objectPath } from '../object/index.js';
import { removeXattr } from '../posix/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { fixtureFile, fixtureManifest } from '../testing/fixture.js';
import { diffTrees, makeTestTree, snapshotTree } from '../testing/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { initRepository, Publisher } from './index.js';

const FQRN = 'roundtrip.example.org';
const asRoot = process.getuid?.() === 0;

/** Publishes `src`, pulls it back into `out`, and returns the differences an independent tree walk finds. */
async function pullAndDiff(served: string, pub: string, src: string, out: string): Promise<string[]> {
  const reader = await RepositoryReader.open(await openSource(served), {
    publicKeysPem: [readFileSync(pub, 'utf8')],
    fqrn: FQRN,
  });
  try {
    await pull(reader, out);
  } finally {
    await reader.close();
  }
  const opts = { withOwners: asRoot, withMtime: true };
  const [a, b] = await Promise.all([snapshotTree(src, opts), snapshotTree(out, opts)]);
  // Catalogs keep whole seconds (schema revision 6) and emulate hardlinks within one directory only.
  return diffTrees(a, b, { ignore: ['mtimeNs', 'hardlinks'], labels: ['source', 'pulled'] });
}

function rootCatalogDb(served: string, hash: string): Database.Database {
  return new Database(decompressSync(readFileSync(path.join(served, objectPath(hash, 'C'))), hash));
}

async function findLongXattrs(root: string): Promise<{ path: string; name: string }[]> {
  const out: { path: string; name: string }[] = [];
  for (const e of await snapshotTree(root)) {
    for (const [name, hex] of Object.entries(e.xattrs ?? {})) {
      if (hex.length / 2 > 255) out.push({ path: path.join(root, e.path), name });
    }
  }
  return out;
}

describe('publish → pull round trip', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  let served = '';
  let pub = '';
  let publisher: Publisher;

  before(async () => {
    await makeTestTree(src, { seed: 7 });
    // CVMFS stores xattr values of at most 255 bytes; the over-long one is a bad-input case of its own.
    for (const file of await findLongXattrs(src)) removeXattr(file.path, file.name);
    const init = await initRepository(data, FQRN);
    served = init.paths.served;
    pub = path.join(init.paths.keys, `${FQRN}.pub`);
    publisher = await Publisher.open(data, FQRN);
  });
  after(async () => {
    await publisher.close();
    tmp.cleanup();
  });

  it('publishes every entry kind plus a 50 MB file and pulls back an identical tree', async () => {
    const r = await publisher.publishDirectory(src);
    assert.equal(r.published, true);
    assert.equal(r.revision, 2);
    assertConformant(served, pub);
    assert.deepEqual(await pullAndDiff(served, pub, src, path.join(tmp.dir, 'out1')), []);
    // Hard links become separate files with the same content, as cvmfs_server publishes them.
    const out = path.join(tmp.dir, 'out1', 'hardlinks');
    const files = (await fsp.readdir(out)).filter((n) => statSync(path.join(out, n)).isFile());
    assert.ok(files.length >= 2);
    assert.ok(files.every((n) => statSync(path.join(out, n)).nlink === 1));
  });

  it('writes catalogs with the schema, properties and counters the fixture carries', () => {
    const fixtureRoot = new Database(
      decompressSync(fixtureFile(objectPath(fixtureManifest().get('C') as string, 'C')), 'fixture'),
    );
    const ours = rootCatalogDb(served, publisher.manifest.rootHash);
    const schema = (db: Database.Database) =>
      db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    assert.deepEqual(schema(ours), schema(fixtureRoot));
    const keys = (db: Database.Database) =>
      (db.prepare('SELECT key FROM properties ORDER BY key').all() as { key: string }[]).map((r) => r.key);
    assert.deepEqual(keys(ours), keys(fixtureRoot));
    const counters = (db: Database.Database) =>
      (db.prepare('SELECT counter FROM statistics ORDER BY counter').all() as { counter: string }[]).map(
        (r) => r.counter,
      );
    assert.deepEqual(counters(ours), counters(fixtureRoot));
    const [{ page_size: pageSize }] = ours.pragma('page_size') as [{ page_size: number }];
    assert.equal(pageSize, 4096);
    const nested = ours.prepare('SELECT path, sha1 FROM nested_catalogs ORDER BY path').all() as {
      path: string;
      sha1: string;
    }[];
    assert.deepEqual(
      nested.map((n) => n.path),
      ['/nested'],
    );
    const child = rootCatalogDb(served, nested[0]?.sha1 as string);
    const childKeys = keys(child);
    assert.deepEqual(childKeys, [
      'last_modified',
      'previous_revision',
      'revision',
      'root_prefix',
      'schema',
      'schema_revision',
    ]);
    ours.close();
    child.close();
    fixtureRoot.close();
  });

  it('republishing the unchanged tree writes nothing', async () => {
    const before = publisher.manifest;
    const r = await publisher.publishDirectory(src);
    assert.equal(r.published, false);
    assert.equal(r.objectsWritten, 0);
    assert.equal(publisher.manifest.rootHash, before.rootHash);
  });

  it('republishes a changed tree: modify, delete, add, move across catalog boundaries, file to directory', async () => {
    const before = publisher.manifest;
    const p = (rel: string) => path.join(src, rel);
    await fsp.writeFile(p('hello.txt'), 'changed content\n');
    await fsp.rm(p('files'), { recursive: true });
    await fsp.writeFile(p('added.txt'), 'a new file\n');
    // Into a nested catalog and out of one.
    await fsp.rename(p('links'), p('nested/links-moved-in'));
    const innerEntries = await fsp.readdir(p('nested'));
    const movable = innerEntries.find(
      (n) => n !== '.cvmfscatalog' && n !== 'inner' && n !== 'links-moved-in',
    );
    assert.ok(movable, 'nested/ has an entry to move out');
    await fsp.rename(p(`nested/${movable}`), p('moved-out'));
    // A file becomes a directory, a directory gains a marker, a marker goes away (merge).
    await fsp.rm(p('added.txt'));
    await fsp.mkdir(p('added.txt'));
    await fsp.writeFile(p('added.txt/inside'), 'x');
    await fsp.writeFile(p('random/.cvmfscatalog'), '');
    await fsp.rm(p('nested/inner/.cvmfscatalog'));
    const r = await publisher.publishDirectory(src);
    assert.equal(r.published, true);
    assert.equal(r.revision, before.revision + 1);
    assertConformant(served, pub);
    assert.deepEqual(await pullAndDiff(served, pub, src, path.join(tmp.dir, 'out2')), []);
    const db = rootCatalogDb(served, publisher.manifest.rootHash);
    const prop = (k: string) =>
      (db.prepare('SELECT value FROM properties WHERE key = ?').get(k) as { value: string }).value;
    assert.equal(prop('previous_revision'), before.rootHash);
    assert.equal(Number(prop('revision')), r.revision);
    assert.deepEqual(
      (db.prepare('SELECT path FROM nested_catalogs ORDER BY path').all() as { path: string }[]).map(
        (n) => n.path,
      ),
      ['/nested', '/random'],
    );
    db.close();
  });

  it('keeps the hash of a nested catalog that did not change', async () => {
    const nestedHash = (hash: string) => {
      const db = rootCatalogDb(served, hash);
      const row = db.prepare("SELECT sha1 FROM nested_catalogs WHERE path = '/nested'").get() as {
        sha1: string;
      };
      db.close();
      return row.sha1;
    };
    const before = publisher.manifest;
    await fsp.writeFile(path.join(src, 'hello.txt'), 'changed again\n');
    const r = await publisher.publishDirectory(src);
    assert.equal(r.catalogsWritten, 1, 'only the root catalog is rewritten');
    assert.equal(nestedHash(publisher.manifest.rootHash), nestedHash(before.rootHash));
    assertConformant(served, pub);
  });

  it('publishes into a subpath, creating its parents, without touching the rest', async () => {
    const small = path.join(tmp.dir, 'small');
    await fsp.mkdir(small);
    await fsp.writeFile(path.join(small, 'f'), 'sub');
    const r = await publisher.publishDirectory(small, '/deep/er/sub');
    assert.equal(r.published, true);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    assert.equal((await reader.lookup('/deep/er/sub/f'))?.size, 3);
    assert.ok(await reader.lookup('/hello.txt'));
    await reader.close();
    assertConformant(served, pub);
  });
});
