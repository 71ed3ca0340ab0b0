import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { diffTrees } from './diff-trees.js';
import { makeTestTree, type TestTreeOptions, TREE_FEATURES } from './make-test-tree.js';
import { snapshotTree, type TreeEntry } from './snapshot-tree.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-tree-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const MIB = 1024 * 1024;
const SMALL: TestTreeOptions = { bigFileSize: 3 * MIB };
const FULL = { withOwners: true, withMtime: true };

async function tree(name: string, options: TestTreeOptions = SMALL) {
  const root = path.join(dir, name);
  const result = await makeTestTree(root, options);
  return { root, result, snap: await snapshotTree(root, FULL) };
}

describe('makeTestTree', () => {
  it('makes every entry kind this process can make, and says what it skipped', async () => {
    const { result, snap } = await tree('t');
    const at = (p: string) => snap.find((e) => e.path === p) as TreeEntry;
    const types = new Set(snap.map((e) => e.type));
    for (const t of ['directory', 'file', 'symlink', 'fifo', 'socket'] as const) assert.ok(types.has(t), t);
    assert.equal(types.has('char') && types.has('block'), result.created.includes('devices'));
    assert.deepEqual(
      [...result.created, ...result.skipped.map((s) => s.feature)]
        .filter((f, i, all) => all.indexOf(f) === i)
        .sort(),
      [...TREE_FEATURES].sort(),
    );
    if (!isRoot) assert.ok(result.skipped.some((s) => s.feature === 'owners'));

    assert.equal(at('files/empty').size, 0);
    assert.equal(at('big/big.bin').size, 3 * MIB);
    assert.equal(at('files/dup-a').sha256, at('files/dup-b').sha256);
    assert.equal(at('dirs/empty').type, 'directory');
    assert.equal(at('links/dangling').target, 'does/not/exist');
    assert.equal(at('links/absolute').target, '/usr/bin/env');
    assert.equal(at('hardlinks/same-dir-2').nlinkGroup, 'hardlinks/original');
    assert.equal(at('hardlinks/sub/cross').nlinkGroup, at('hardlinks/cross').nlinkGroup);
    assert.ok(snap.some((e) => Buffer.byteLength(path.posix.basename(e.path)) === 255));
    assert.ok(at('odd/new\nline'));
    assert.equal(at('modes/setuid').mode, 0o4755);
    assert.equal(at('modes/sticky-dir').mode, 0o1777);
    assert.equal(at('mtimes/y2038-first').mtime, 2 ** 31);
    assert.equal(at('mtimes/quarter-second').mtimeNs, 250_000_000);
    assert.equal(at('nested/.cvmfscatalog').size, 0);
    assert.equal(at('nested/inner/.cvmfscatalog').size, 0);
    if (result.created.includes('xattrs')) {
      assert.equal(at('xattrs/file').xattrs?.['user.barge.binary'], '00010200fffe00');
      assert.equal(at('xattrs/file').xattrs?.['user.barge.empty'], '');
    }
    if (result.created.includes('owners')) {
      assert.deepEqual(
        [at('owners/large-ids').uid, at('owners/large-ids').gid],
        [3_000_000_000, 3_000_000_001],
      );
      assert.equal(at('owners/setuid-1000').mode, 0o4755, 'chown ran before chmod');
    }
  });

  it('is deterministic for a seed, owners and mtimes included', async () => {
    const a = await tree('a', { ...SMALL, seed: 42 });
    const b = await tree('b', { ...SMALL, seed: 42 });
    assert.deepEqual(diffTrees(a.snap, b.snap), []);
  });

  it('changes contents, not the fixed layout, with the seed', async () => {
    const a = await tree('a', { ...SMALL, seed: 1 });
    const b = await tree('b', { ...SMALL, seed: 2 });
    const diff = diffTrees(a.snap, b.snap, { skip: (p) => p.startsWith('random'), ignore: ['mtime'] });
    assert.ok(diff.some((l) => l.startsWith('big/big.bin: content')));
    assert.ok(
      diff.every((l) => !l.includes('only in')),
      diff.join('\n'),
    );
  });

  it('repeats a region of the big file so that chunks deduplicate', async () => {
    const { root } = await tree('t', { features: ['bigFile'], bigFileSize: 10 * MIB });
    const handle = await open(path.join(root, 'big/big.bin'));
    try {
      const { buffer: data } = await handle.read(Buffer.alloc(10 * MIB), 0, 10 * MIB, 0);
      const first = Math.floor(10 * MIB * 0.4);
      const copy = Math.floor(10 * MIB * 0.3);
      assert.ok(data.subarray(first, first + copy).equals(data.subarray(0, copy)));
      assert.ok(data.subarray(first + copy, first + copy + MIB / 2).every((x) => x === 0));
      assert.ok(!data.subarray(0, MIB).equals(data.subarray(MIB, 2 * MIB)));
    } finally {
      await handle.close();
    }
  });

  it('makes only the chosen features', async () => {
    const { snap, result } = await tree('t', { features: ['symlinks', 'fifo', 'mtimes'], exclude: ['fifo'] });
    assert.deepEqual(result.created, ['symlinks', 'mtimes']);
    const top = snap.filter((e) => e.path !== '' && !e.path.includes('/')).map((e) => e.path);
    assert.deepEqual(top, ['links', 'mtimes']);
  });

  it('puts markers where nested catalogs are asked for', async () => {
    const { snap } = await tree('t', { features: ['nestedCatalogs'], nestedCatalogs: ['x', 'x/y/z'] });
    const markers = snap.filter((e) => e.path.endsWith('/.cvmfscatalog')).map((e) => e.path);
    assert.deepEqual(markers, ['x/.cvmfscatalog', 'x/y/z/.cvmfscatalog']);
  });

  it('refuses a directory that is not empty', async () => {
    await mkdir(path.join(dir, 'full'));
    await writeFile(path.join(dir, 'full', 'x'), '');
    await assert.rejects(makeTestTree(path.join(dir, 'full')), /not empty/);
  });
});
