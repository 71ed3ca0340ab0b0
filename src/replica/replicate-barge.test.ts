import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifest } from '../manifest/index.js';
import { objectPath } from '../object/index.js';
import { removeXattr } from '../posix/index.js';
import { repositoryPaths } from '../repository/index.js';
import { makeTestTree, snapshotTree } from '../testing/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import {
  BargeSource,
  conformant,
  corruptObjects,
  diffPulled,
  type LoggedServer,
  listObjects,
  runBargeAsync,
  serveLogged,
} from './replica-test-support.js';

const FQRN = 'replicated.example.org';

/**
 * A stratum 1 of a barge repository over HTTP: conformant, the same tree as the source, and
 * incremental: after a new revision, the second snapshot fetches exactly the objects the
 * publish added (counted on the source's request log), plus the certificate the trust chain reads.
 */
describe('replicate a barge repository', () => {
  const tmp = tempDir();
  const sourceData = path.join(tmp.dir, 'source');
  const replicaData = path.join(tmp.dir, 'replica');
  const tree = path.join(tmp.dir, 'tree');
  const replicaServed = repositoryPaths(replicaData, FQRN).served;
  let source: BargeSource;
  let server: LoggedServer;
  let url: string;
  const snapshot = () =>
    replicate({
      source: url,
      fqrn: FQRN,
      publicKeysPem: [source.publicKeyPem],
      dataDir: replicaData,
      parallel: 8,
    });

  before(async () => {
    await makeTestTree(tree, { seed: 11, bigFileSize: 9 << 20, randomEntries: 40 });
    // CVMFS keeps xattr values of at most 255 bytes; the test tree's over-long one is for bad-input tests.
    for (const e of await snapshotTree(tree)) {
      for (const [name, hex] of Object.entries(e.xattrs ?? {})) {
        if (hex.length / 2 > 255) removeXattr(path.join(tree, e.path), name);
      }
    }
    source = await BargeSource.create(sourceData, FQRN);
    await source.publish(tree);
    await source.tag('first');
    server = await serveLogged(sourceData);
    url = `${server.url}/cvmfs/${FQRN}`;
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('takes a first snapshot that is conformant and pulls to the source tree', async () => {
    const r = await snapshot();
    assert.equal(r.revision, 2);
    assert.deepEqual(await listObjects(replicaServed), await source.objectKeys());
    assert.deepEqual(await corruptObjects(replicaServed), []);
    await conformant(replicaServed, source.pub);
    const options = { fqrn: FQRN, publicKeyPem: source.publicKeyPem, out: path.join(tmp.dir, 'pull1') };
    assert.deepEqual(await diffPulled(url, replicaServed, options), []);
  });

  it('fetches only the new objects of a new revision', async () => {
    // A new revision: new files, a changed one, one removed, and a change in a nested catalog.
    await fsp.writeFile(path.join(tree, 'hello.txt'), 'changed\n');
    await fsp.mkdir(path.join(tree, 'added'));
    for (let i = 0; i < 30; i++)
      await fsp.writeFile(path.join(tree, 'added', `f${i}`), randomBytes(1000 + i));
    await fsp.writeFile(path.join(tree, 'nested', 'new-in-nested.txt'), randomBytes(5000));
    await fsp.rm(path.join(tree, 'files'), { recursive: true, force: true });
    const before = await source.objectKeys();
    assert.equal(await source.publish(tree), 3);
    const added = [...(await source.objectKeys())].filter((k) => !before.has(k));
    const from = server.requests.length;

    const r = await snapshot();
    assert.equal(r.revision, 3);
    assert.equal(r.previousRevision, 2);
    const gets = server.objectGets(from);
    const manifest = parseManifest(await fsp.readFile(path.join(replicaServed, '.cvmfspublished')));
    const certificate = objectPath(manifest.certificate, 'X');
    assert.deepEqual(
      gets.keys.filter((k) => k !== certificate).sort(),
      added.sort(),
      'exactly the objects the publish added',
    );
    const addedBytes = added.reduce((n, k) => n + statSync(path.join(source.served, k)).size, 0);
    assert.equal(gets.bytes, addedBytes + statSync(path.join(source.served, certificate)).size);
    assert.equal(r.stats.objectsFetched, added.length);
    assert.ok(r.stats.catalogsSkipped > 0, 'unchanged catalogs are skipped by the ledger');
    // Old revisions stay whole: a client that mounted revision 2 still finds its objects.
    await conformant(replicaServed, source.pub);
    const options = { fqrn: FQRN, publicKeyPem: source.publicKeyPem };
    assert.deepEqual(
      await diffPulled(url, replicaServed, { ...options, out: path.join(tmp.dir, 'pull2') }),
      [],
    );
    assert.deepEqual(
      await diffPulled(url, replicaServed, { ...options, out: path.join(tmp.dir, 'pull3'), tag: 'first' }),
      [],
    );
  });

  it('is what barge pull reads, and barge serve serves', async () => {
    const replica = await serveLogged(replicaData);
    try {
      const out = path.join(tmp.dir, 'cli-pull');
      const r = await runBargeAsync([
        'pull',
        `${replica.url}/cvmfs/${FQRN}`,
        out,
        '--key',
        source.pub,
        '--path',
        '/added',
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((await fsp.readdir(out)).length, 30);
    } finally {
      await replica.close();
    }
  });

  it('refuses a source signed with another master key', async () => {
    const other = await BargeSource.create(path.join(tmp.dir, 'other'), FQRN);
    await assert.rejects(
      replicate({ source: url, fqrn: FQRN, publicKeysPem: [other.publicKeyPem], dataDir: replicaData }),
      { code: 'SIGNATURE_INVALID' },
    );
  });
});
