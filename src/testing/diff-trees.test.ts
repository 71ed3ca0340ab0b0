import assert from 'node:assert/strict';
import {
  chmod,
  copyFile,
  link,
  lstat,
  lutimes,
  mkdtemp,
  open,
  rm,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { removeXattr } from '../posix/index.js';
import { diffTrees } from './diff-trees.js';
import { makeTestTree, type TestTreeOptions } from './make-test-tree.js';
import { snapshotTree, type TreeEntry } from './snapshot-tree.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-diff-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TREE: TestTreeOptions = { seed: 'diff', bigFileSize: 2 * 1024 * 1024, randomEntries: 10 };
const FULL = { withOwners: true, withMtime: true };

/** Two identical test trees, a and b, under the test's temp dir. */
async function twins(): Promise<{ a: string; b: string }> {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await Promise.all([makeTestTree(a, TREE), makeTestTree(b, TREE)]);
  return { a, b };
}

/** Flips one byte of a file in place, keeping its mtime, so only the content differs. */
async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const { mtime } = await handle.stat();
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    await handle.write(byte, 0, 1, offset);
    await handle.utimes(mtime, mtime);
  } finally {
    await handle.close();
  }
}

describe('diffTrees on test trees', () => {
  it('finds nothing between two trees made with the same seed', async () => {
    const { a, b } = await twins();
    assert.deepEqual(diffTrees(await snapshotTree(a, FULL), await snapshotTree(b, FULL)), []);
  });

  // Each mutation is made in b, keeping the parent directory's mtime so the diff is exactly one line.
  const cases: Array<{ name: string; mutate: (b: string) => Promise<void>; expected: RegExp }> = [
    {
      name: 'a changed byte in the big file',
      mutate: (b) => flipByte(path.join(b, 'big/big.bin'), 1_500_000),
      expected: /^big\/big\.bin: content \(same size\) sha256 [0-9a-f]{16} in a, [0-9a-f]{16} in b$/,
    },
    {
      name: 'a changed mode',
      mutate: (b) => chmod(path.join(b, 'modes/setuid'), 0o755),
      expected: /^modes\/setuid: mode 0o4755 in a, 0o0755 in b$/,
    },
    {
      name: 'a changed symlink target',
      mutate: async (b) => {
        const p = path.join(b, 'links/relative');
        await unlink(p);
        await symlink('target.txX', p);
        await keepMtime(b, 'links');
        await lutimes(p, ...(await mtimeOf(path.join(dir, 'a/links/relative'))));
      },
      expected: /^links\/relative: symlink target "target\.txt" in a, "target\.txX" in b$/,
    },
    {
      name: 'a missing xattr',
      mutate: async (b) => removeXattr(path.join(b, 'xattrs/file'), 'user.barge.binary'),
      expected: /^xattrs\/file: xattr user\.barge\.binary only in a$/,
    },
    {
      name: 'a broken hardlink',
      mutate: async (b) => {
        const p = path.join(b, 'hardlinks/pair-b');
        await copyFile(p, `${p}.tmp`, 0);
        await unlink(p);
        await link(`${p}.tmp`, p); // a new inode with the same content...
        await unlink(`${p}.tmp`);
        await utimes(p, ...(await mtimeOf(path.join(dir, 'a/hardlinks/pair-b'))));
        await keepMtime(b, 'hardlinks');
      },
      expected: /^hardlinks\/pair-a: hardlinked with \[hardlinks\/pair-b\] in a, no other name in b$/,
    },
    {
      name: 'a file only on one side',
      mutate: async (b) => {
        await writeFile(path.join(b, 'files/extra'), 'x');
        await keepMtime(b, 'files');
      },
      expected: /^files\/extra: only in b \(file\)$/,
    },
  ];
  for (const c of cases) {
    it(`detects ${c.name}`, async () => {
      const { a, b } = await twins();
      await c.mutate(b);
      const diff = diffTrees(await snapshotTree(a, FULL), await snapshotTree(b, FULL));
      assert.ok(
        diff.some((line) => c.expected.test(line)),
        diff.join('\n'),
      );
      // The broken hardlink shows once per affected name; every other mutation is one line.
      if (c.name !== 'a broken hardlink') assert.equal(diff.length, 1, diff.join('\n'));
    });
  }

  /** Restores the mtime of directory `rel` of b from its twin in a. */
  async function keepMtime(b: string, rel: string): Promise<void> {
    await utimes(path.join(b, rel), ...(await mtimeOf(path.join(dir, 'a', rel))));
  }
  async function mtimeOf(p: string): Promise<[Date, Date]> {
    const st = await lstat(p);
    return [st.mtime, st.mtime];
  }
});

/** A snapshot entry with defaults, for table tests that need no files at all. */
const entry = (p: string, more: Partial<TreeEntry> = {}): TreeEntry => ({
  path: p,
  type: 'file',
  mode: 0o644,
  size: 0,
  ...more,
});

describe('diffTrees options', () => {
  const root = entry('', { type: 'directory', mode: 0o755 });

  it('ignores what it is told to ignore', () => {
    const a = [
      { ...root, mtime: 10, mtimeNs: 0 },
      entry('f', {
        mode: 0o4755,
        uid: 1,
        gid: 2,
        mtime: 5,
        mtimeNs: 1,
        xattrs: { 'user.x': '00' },
        nlinkGroup: 'f',
      }),
      entry('g', { nlinkGroup: 'f' }),
      entry('l', { type: 'symlink', mode: 0o777, target: 't', mtime: 1, mtimeNs: 0 }),
    ];
    const b = [
      { ...root, mtime: 11, mtimeNs: 0 },
      entry('f', { mode: 0o755, uid: 0, gid: 0, mtime: 5, mtimeNs: 2 }),
      entry('g'),
      entry('l', { type: 'symlink', mode: 0o777, target: 't', mtime: 2, mtimeNs: 0 }),
    ];
    assert.equal(diffTrees(a, b).length, 9, diffTrees(a, b).join('\n'));
    const ignored = diffTrees(a, b, {
      ignore: ['specialBits', 'owners', 'directoryMtime', 'symlinkMtime', 'mtimeNs', 'xattrs', 'hardlinks'],
    });
    assert.deepEqual(ignored, []);
    assert.deepEqual(diffTrees(a, b, { ignore: ['mode', 'owners', 'mtime', 'xattrs', 'hardlinks'] }), []);
  });

  it('summarizes a directory present on one side instead of listing its contents', () => {
    const a = [root, entry('d', { type: 'directory', mode: 0o755 }), entry('d/x'), entry('d/y'), entry('e')];
    assert.deepEqual(diffTrees(a, [root, entry('e')], { labels: ['source', 'pulled'] }), [
      'd: only in source (directory, with 2 entries inside)',
    ]);
    assert.deepEqual(diffTrees([root, entry('d')], a), [
      'd: file in a, directory in b',
      'e: only in b (file)',
    ]);
  });

  it('skips entries, quotes odd paths and stops at the limit', () => {
    const a = [root, entry('.cvmfscatalog'), entry('new\nline', { size: 1 }), entry(' x', { size: 1 })];
    const b = [root, entry('new\nline', { size: 2 }), entry(' x', { size: 2 })];
    assert.deepEqual(diffTrees(a, b, { skip: (p) => p.endsWith('.cvmfscatalog') }), [
      '" x": size 1 in a, 2 in b',
      '"new\\nline": size 1 in a, 2 in b',
    ]);
    assert.deepEqual(diffTrees(a, b, { limit: 1 }), [
      '" x": size 1 in a, 2 in b',
      '… and 2 more differences',
    ]);
  });
});
