import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { putFile } from '../image/publish-image.js';
import { assertConformant } from '../testing/conformance.js';
import { tempDir } from '../testing/temp-dir.js';
import { initRepository } from './init-repository.js';
import { directoryEntry } from './publish-directory.js';
import { Publisher } from './publisher.js';
import { CATALOG_MARKER, type WorkingTree } from './working-tree.js';

const FQRN = 'reuse.example.org';

/**
 * The upload queue's two shortcuts: a nested catalog is removed (and tested for) without being
 * read, and a tree settled after its commit takes the next change exactly as a fresh tree of the
 * new revision would (same root hash, catalog for catalog).
 */
describe('working tree: removing nested catalogs unread, settled trees reused', () => {
  const tmp = tempDir();
  let data: string;
  let pub: string;
  before(async () => {
    data = `${tmp.dir}/data`;
    const init = await initRepository(data, FQRN);
    pub = `${init.paths.keys}/${FQRN}.pub`;
  });
  after(() => tmp.cleanup());

  /** Adds /g/<name>/ as its own nested catalog with one file in it. */
  async function addNested(
    tree: WorkingTree,
    p: Publisher,
    name: string,
    writer: Parameters<typeof putFile>[1],
  ) {
    const algorithm = p.config.hashAlgorithm;
    if (!(await tree.has('/g'))) {
      await tree.put({ ...directoryEntry('/g', algorithm), mtime: 1_700_000_000, uid: 0, gid: 0 });
      await putFile(tree, writer, `/g/${CATALOG_MARKER}`, Buffer.alloc(0), 0o644, 1_700_000_000, algorithm);
    }
    await tree.put({ ...directoryEntry(`/g/${name}`, algorithm), mtime: 1_700_000_000, uid: 0, gid: 0 });
    await putFile(
      tree,
      writer,
      `/g/${name}/${CATALOG_MARKER}`,
      Buffer.alloc(0),
      0o644,
      1_700_000_000,
      algorithm,
    );
    await putFile(
      tree,
      writer,
      `/g/${name}/f.txt`,
      Buffer.from(`${name}\n`),
      0o644,
      1_700_000_000,
      algorithm,
    );
  }

  it('has() and remove() of a nested mountpoint do not load its catalog', async () => {
    const p = await Publisher.open(data, FQRN);
    try {
      await p.applyChanges(async (tree, writer) => {
        for (const n of ['a', 'b', 'c']) await addNested(tree, p, n, writer);
      });
      const loaded: string[] = [];
      const tree = p.newTree();
      tree.useLoader(async (hash, mountpoint) => {
        loaded.push(mountpoint);
        return p.loadCatalog(hash, mountpoint);
      });
      assert.equal(await tree.has('/g/b'), true);
      assert.equal(await tree.has('/g/x'), false);
      await tree.remove('/g/b');
      assert.equal(await tree.has('/g/b'), false);
      assert.deepEqual(loaded, ['', '/g'], 'only the catalogs above the mountpoint were read');
      const r = await p.applyChanges(async () => {}, { tree });
      assert.equal(r.published, true);
      assert.equal(await p.readFile('/g/b/f.txt'), undefined);
      assert.equal((await p.readFile('/g/a/f.txt'))?.toString(), 'a\n');
    } finally {
      await p.close();
    }
    await assertConformant(`${data}/repos/${FQRN}`, pub);
  });

  /** Every entry below `dir`, through `tree` (loading what it must), parents first. */
  async function dump(tree: WorkingTree, dir = ''): Promise<string[]> {
    const out: string[] = [];
    for (const d of await tree.list(dir)) {
      out.push(`${d.path} ${d.mode.toString(8)} ${d.size} ${d.hash} ${d.linkcount} ${d.nestedRoot}`);
      if ((d.mode & 0o170000) === 0o040000) out.push(...(await dump(tree, d.path)));
    }
    return out;
  }

  it('a settled tree stands for the revision it committed and takes the next change', async () => {
    const p = await Publisher.open(data, FQRN);
    try {
      const kept = p.newTree();
      const r1 = await p.applyChanges(async (tree, writer) => addNested(tree, p, 'd', writer), {
        tree: kept,
      });
      kept.settle(p.loadCatalog);
      assert.equal(kept.rootHash, r1.rootHash);
      // Catalog for catalog what a fresh tree of the new revision reads from the store.
      const fresh = p.newTree();
      assert.deepEqual(await dump(kept), await dump(fresh));
      for (const m of ['/g', '/g/a', '/g/d']) {
        assert.equal((await kept.catalogAt(m))?.hash, (await fresh.catalogAt(m))?.hash, m);
      }
      // The next change through the settled tree: a new nested catalog, one removed, one edited.
      const r2 = await p.applyChanges(
        async (tree, writer) => {
          await addNested(tree, p, 'e', writer);
          await tree.remove('/g/a');
          await putFile(
            tree,
            writer,
            '/g/d/f.txt',
            Buffer.from('d2\n'),
            0o644,
            1_700_000_001,
            p.config.hashAlgorithm,
          );
        },
        { tree: kept },
      );
      assert.equal(r2.published, true);
      kept.settle(p.loadCatalog);
      assert.equal(kept.rootHash, r2.rootHash);
      assert.deepEqual(await dump(kept), await dump(p.newTree()));
      assert.equal((await p.readFile('/g/d/f.txt'))?.toString(), 'd2\n');
      assert.equal((await p.readFile('/g/e/f.txt'))?.toString(), 'e\n');
      assert.equal(await p.readFile('/g/a/f.txt'), undefined);
    } finally {
      await p.close();
    }
    await assertConformant(`${data}/repos/${FQRN}`, pub);
  });
});
