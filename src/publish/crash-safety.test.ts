import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fsck, openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';

const FQRN = 'crash.example.org';

/**
 * kill -9 at every step of a publish (failpoints make the kill land at an exact step, not at a
 * random time): after each, the previous revision is still served and whole, fsck passes, and
 * the next publish succeeds.
 */
describe('crash safety: kill -9 during init, publish and tag', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  let iteration = 0;

  const manifestBytes = () => readFileSync(path.join(served, '.cvmfspublished'));
  const revision = () => Number(/\nS(\d+)\n/.exec(manifestBytes().toString('latin1'))?.[1]);

  /** A change with many new objects, a chunked file, and entries in the nested catalog. */
  async function change(): Promise<void> {
    iteration++;
    const dir = path.join(src, `iter-${iteration}`);
    await fsp.mkdir(dir);
    for (let i = 0; i < 40; i++) await fsp.writeFile(path.join(dir, `f${i}`), randomBytes(200 + i));
    await fsp.writeFile(path.join(src, 'nested', `n-${iteration}.txt`), `nested ${iteration}\n`);
    await fsp.writeFile(path.join(src, 'big.bin'), randomBytes(6 << 20));
  }

  async function assertWhole(expectRevision: number): Promise<void> {
    assert.equal(revision(), expectRevision, 'the served revision');
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
      fqrn: FQRN,
    });
    const report = await fsck(reader);
    await reader.close();
    assert.deepEqual(report.problems, [], 'fsck of every kept revision');
  }

  before(async () => {
    await fsp.mkdir(path.join(src, 'nested'), { recursive: true });
    await fsp.writeFile(path.join(src, 'nested', '.cvmfscatalog'), '');
    await change();
  });
  after(tmp.cleanup);

  const initPoints = ['catalog:1', 'history:1', 'manifest:1'];
  for (const point of initPoints) {
    it(`init killed at ${point} leaves no served repository, and init again succeeds`, () => {
      const r = runBarge(['init', FQRN, '--data', data], { BARGE_FAILPOINT: point });
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      assert.throws(() => manifestBytes(), { code: 'ENOENT' });
    });
  }

  it('init completes after the crashed attempts and the first publish works', async () => {
    const r = runBarge(['init', FQRN, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
    const p = runBarge(['publish', FQRN, src, '--data', data]);
    assert.equal(p.status, 0, p.stderr);
    await assertWhole(2);
    assertConformant(served, pub);
  });

  const publishPoints = [
    'object:1',
    'object:2',
    'object:3',
    'object:10',
    'object:25',
    'object:41',
    'object:42',
    'object:43',
    'catalog:1',
    'catalog:2',
    'history:1',
    'reflog-pending:1',
    'flush:1',
    'manifest:1',
    'manifest-swapped:1',
  ];
  for (const point of publishPoints) {
    it(`publish killed at ${point}: previous revision served whole, next publish succeeds`, async () => {
      const before = revision();
      const beforeBytes = manifestBytes();
      await change();
      const r = runBarge(['publish', FQRN, src, '--data', data], { BARGE_FAILPOINT: point });
      assert.equal(r.signal, 'SIGKILL', `expected a kill at ${point}: ${r.stdout}${r.stderr}`);
      if (point === 'manifest-swapped:1') {
        // Killed after the commit point: the new revision is served, the reflog is repaired on the next open.
        await assertWhole(before + 1);
      } else {
        assert.deepEqual(manifestBytes(), beforeBytes, 'the manifest was not touched');
        await assertWhole(before);
        assertConformant(served, pub);
      }
      const again = runBarge(['publish', FQRN, src, '--data', data]);
      assert.equal(again.status, 0, again.stderr);
      await assertWhole(revision());
      assertConformant(served, pub);
    });
  }

  for (const point of ['history:1', 'manifest:1', 'manifest-swapped:1']) {
    it(`tag killed at ${point}: the repository stays whole and tagging again works`, async () => {
      const rev = revision();
      const name = `t-${point.replace(/[^a-z]/g, '')}`;
      const r = runBarge(['tag', FQRN, name, '--data', data], { BARGE_FAILPOINT: point });
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      await assertWhole(rev);
      const tagged = point === 'manifest-swapped:1';
      const again = runBarge(['tag', FQRN, tagged ? `${name}-2` : name, '--data', data]);
      assert.equal(again.status, 0, again.stderr);
      await assertWhole(rev);
      assertConformant(served, pub);
    });
  }

  it('after all crashes, the served tree equals the source', async () => {
    const { pull } = await import('../client/index.js');
    const { diffTrees, snapshotTree } = await import('../testing/index.js');
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const out = path.join(tmp.dir, 'out');
    await pull(reader, out);
    await reader.close();
    assert.deepEqual(diffTrees(await snapshotTree(src), await snapshotTree(out)), []);
    assert.ok(initPoints.length + publishPoints.length + 3 >= 20, 'at least 20 crash points');
  });
});
