import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { repositoryPaths } from '../repository/index.js';
import { FIXTURE_FQRN, FIXTURE_PUB, FIXTURE_SERVED } from '../testing/fixture.js';
import { tempDir } from '../testing/temp-dir.js';
import { assertNotReplica, ReplicaLedger, replicate } from './index.js';
import {
  conformant,
  corruptObjects,
  diffPulled,
  type LoggedServer,
  linkServed,
  listObjects,
  runBargeAsync,
  serveLogged,
} from './replica-test-support.js';

/**
 * A stratum 1 of the repository written by the real cvmfs_server 2.11.5 (shared/fixtures), read
 * over HTTP from barge serve: the replica passes the conformance checker over all revisions,
 * pulls to the same tree as the source at HEAD and at a tag, and a second snapshot fetches nothing.
 */
describe('replicate the cvmfs_server reference repository', () => {
  const tmp = tempDir();
  const sourceData = path.join(tmp.dir, 'source');
  const replicaData = path.join(tmp.dir, 'replica');
  const served = repositoryPaths(replicaData, FIXTURE_FQRN).served;
  const key = readFileSync(FIXTURE_PUB, 'utf8');
  let source: LoggedServer;
  let replicaServer: LoggedServer;
  let sourceUrl: string;

  before(async () => {
    await linkServed(sourceData, FIXTURE_FQRN, FIXTURE_SERVED);
    source = await serveLogged(sourceData);
    sourceUrl = `${source.url}/cvmfs/${FIXTURE_FQRN}`;
  });
  after(async () => {
    await replicaServer?.close();
    await source.close();
    tmp.cleanup();
  });

  it('takes a snapshot with every object of every revision the source holds', async () => {
    const r = await replicate({
      source: sourceUrl,
      fqrn: FIXTURE_FQRN,
      publicKeysPem: [key],
      dataDir: replicaData,
    });
    assert.equal(r.revision, 3);
    assert.equal(r.changed, true);
    assert.ok(
      r.roots.every((x) => x.held),
      JSON.stringify(r.roots),
    );
    // HEAD (revision 3, tags trunk and v2), revision 2 (tags v1 and trunk-previous), and the
    // revisions 1 and 0 of mkfs that the reflog and the previous_revision chain still name.
    assert.deepEqual(new Set(r.roots.map((x) => x.revision)), new Set([0, 1, 2, 3]));
    assert.equal(new Set(r.roots.map((x) => x.hash)).size, 4);
    assert.deepEqual(await listObjects(served), await listObjects(FIXTURE_SERVED));
    assert.deepEqual(await corruptObjects(served), []);
    for (const file of ['.cvmfspublished', '.cvmfswhitelist', '.cvmfsreflog']) {
      assert.deepEqual(
        readFileSync(path.join(served, file)),
        readFileSync(path.join(FIXTURE_SERVED, file)),
        file,
      );
    }
    assert.match(
      readFileSync(path.join(served, '.cvmfs_last_snapshot'), 'utf8'),
      /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n$/,
    );
  });

  it('serves a replica that passes cvmfs-conformance.py --strict --all-revisions over HTTP', async () => {
    replicaServer = await serveLogged(replicaData);
    await conformant(`${replicaServer.url}/cvmfs/${FIXTURE_FQRN}`, FIXTURE_PUB);
    const list = (await (await fetch(`${replicaServer.url}/cvmfs/info/v1/repositories.json`)).json()) as {
      replicas: { name: string }[];
    };
    assert.deepEqual(
      list.replicas.map((x) => x.name),
      [FIXTURE_FQRN],
    );
  });

  it('pulls to the same tree as the source, at HEAD and at tag v1', async () => {
    const replicaUrl = `${replicaServer.url}/cvmfs/${FIXTURE_FQRN}`;
    const options = { fqrn: FIXTURE_FQRN, publicKeyPem: key };
    assert.deepEqual(
      await diffPulled(sourceUrl, replicaUrl, { ...options, out: path.join(tmp.dir, 'head') }),
      [],
    );
    assert.deepEqual(
      await diffPulled(sourceUrl, replicaUrl, { ...options, out: path.join(tmp.dir, 'v1'), tag: 'v1' }),
      [],
    );
  });

  it('fetches no object again on a second snapshot of the same revision', async () => {
    const from = source.requests.length;
    const r = await replicate({
      source: sourceUrl,
      fqrn: FIXTURE_FQRN,
      publicKeysPem: [key],
      dataDir: replicaData,
    });
    assert.equal(r.changed, false);
    assert.equal(r.stats.objectsFetched, 0);
    assert.equal(r.stats.catalogsFetched, 0);
    // Only the certificate, which the trust chain checks on every snapshot.
    assert.equal(source.objectGets(from).keys.length, 1);
    const ledger = ReplicaLedger.open(repositoryPaths(replicaData, FIXTURE_FQRN).state);
    try {
      assert.equal(ledger.counts().catalogs, 5, 'three root catalogs and two nested ones');
      assert.deepEqual(
        ledger.snapshots().map((s) => s.status),
        ['done', 'done'],
      );
    } finally {
      ledger.close();
    }
  });

  it('keeps the master key, so barge fsck checks the replica by its name', async () => {
    const r = await runBargeAsync(['fsck', FIXTURE_FQRN, '--data', replicaData]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('marks the state directory so that writers refuse the replica', () => {
    assert.throws(
      () => assertNotReplica(repositoryPaths(replicaData, FIXTURE_FQRN).state, FIXTURE_FQRN),
      (err) => isBargeError(err, 'REPO_IS_REPLICA'),
    );
  });
});
