import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fsck, openSource, RepositoryReader, repositoryPaths } from '../repository/index.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { BargeSource, conformant, corruptObjects, listObjects } from './replica-test-support.js';

const FQRN = 'killed.example.org';

/**
 * kill -9 in the middle of a snapshot (failpoints land the kill at an exact step): the replica
 * keeps serving its previous snapshot, whole; the next run resumes, fetching only what the
 * killed runs had not stored, and one killed right before the manifest swap leaves nothing to fetch.
 */
describe('replicate killed mid-snapshot', () => {
  const tmp = tempDir();
  const tree = path.join(tmp.dir, 'tree');
  const replicaData = path.join(tmp.dir, 'replica');
  const served = repositoryPaths(replicaData, FQRN).served;
  let source: BargeSource;
  const run = (failpoint?: string) =>
    runBarge(
      ['replicate', source.served, FQRN, '--key', source.pub, '--data', replicaData, '--parallel', '4'],
      failpoint ? { BARGE_FAILPOINT: failpoint } : {},
    );
  const revision = () =>
    Number(/\nS(\d+)\n/.exec(readFileSync(path.join(served, '.cvmfspublished'), 'latin1'))?.[1]);

  async function assertWhole(expected: number): Promise<void> {
    assert.equal(revision(), expected, 'the served revision');
    assert.deepEqual(await corruptObjects(served), []);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [source.publicKeyPem],
      fqrn: FQRN,
    });
    const report = await fsck(reader);
    await reader.close();
    assert.deepEqual(report.problems, [], 'every object of every kept revision');
  }

  before(async () => {
    await fsp.mkdir(path.join(tree, 'nested'), { recursive: true });
    await fsp.writeFile(path.join(tree, 'nested', '.cvmfscatalog'), '');
    await fsp.writeFile(path.join(tree, 'nested', 'a.txt'), 'a\n');
    source = await BargeSource.create(path.join(tmp.dir, 'source'), FQRN);
    await source.publish(tree);
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    // Revision 3: 80 new objects in the root and the nested catalog.
    for (const dir of ['more', 'nested/more']) {
      await fsp.mkdir(path.join(tree, dir));
      for (let i = 0; i < 40; i++) await fsp.writeFile(path.join(tree, dir, `f${i}`), randomBytes(2000 + i));
    }
    await source.publish(tree);
  });
  after(tmp.cleanup);

  let held = 0;
  for (const point of ['replicate-object:5', 'replicate-object:30']) {
    it(`killed at ${point}: the previous snapshot is still served, whole; what it stored stays`, async () => {
      const r = run(point);
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      await assertWhole(2);
      await conformant(served, source.pub);
      // The objects stored before the kill are kept and not fetched again: each run adds its own.
      const now = (await listObjects(served)).size;
      assert.ok(now >= held + Number(point.split(':')[1]), `${now} objects held, ${held} before`);
      held = now;
    });
  }

  it('killed right before the manifest swap: the previous manifest is still served', async () => {
    const r = run('replicate-manifest');
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    // The whitelist and reflog are swapped in already; clients read neither the reflog nor anything new.
    await assertWhole(2);
  });

  it('resumes: the next run has nothing left to fetch and serves the new revision', async () => {
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /replicated killed\.example\.org revision 3 \(was 2\)/);
    assert.match(r.stdout, / 0 objects fetched \(0 B\)/, r.stdout);
    assert.match(r.stdout, /catalogs 0 fetched/, r.stdout);
    await assertWhole(3);
    await conformant(served, source.pub);
    assert.deepEqual(await listObjects(served), await source.objectKeys());
  });
});
