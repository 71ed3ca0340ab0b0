import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { mknod, setXattr } from '../posix/index.js';
import { snapshotTree } from './snapshot-tree.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-snapshot-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('snapshotTree', () => {
  it('describes each entry kind without following links or opening fifos', async () => {
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'sub', 'abc'), 'abc');
    await chmod(path.join(root, 'sub', 'abc'), 0o4750);
    await symlink('sub/abc', path.join(root, 'link'));
    await symlink('sub', path.join(root, 'dir-link'));
    mknod(path.join(root, 'fifo'), constants.S_IFIFO | 0o600);
    mknod(path.join(root, 'sock'), constants.S_IFSOCK | 0o600);
    await chmod(path.join(root, 'fifo'), 0o640);
    await chmod(path.join(root, 'sock'), 0o600);
    await chmod(path.join(root, 'sub'), 0o750);
    await chmod(root, 0o755);
    const snap = await snapshotTree(root);
    assert.deepEqual(snap, [
      { path: '', type: 'directory', mode: 0o755, size: 0 },
      { path: 'dir-link', type: 'symlink', mode: 0o777, size: 3, target: 'sub' },
      { path: 'fifo', type: 'fifo', mode: 0o640, size: 0 },
      { path: 'link', type: 'symlink', mode: 0o777, size: 7, target: 'sub/abc' },
      { path: 'sock', type: 'socket', mode: 0o600, size: 0 },
      { path: 'sub', type: 'directory', mode: 0o750, size: 0 },
      { path: 'sub/abc', type: 'file', mode: 0o4750, size: 3, sha256: SHA256_ABC },
    ]);
  });

  it('sorts paths bytewise, as CVMFS does', async () => {
    for (const name of ['b', 'a-b', 'é', 'Z']) await writeFile(path.join(dir, name), '');
    await mkdir(path.join(dir, 'a'));
    await writeFile(path.join(dir, 'a', 'x'), '');
    const paths = (await snapshotTree(dir)).map((e) => e.path);
    // '-' (0x2d) < '/' (0x2f), so a-b precedes a/x; é (0xc3…) after every ASCII name.
    assert.deepEqual(paths, ['', 'Z', 'a', 'a-b', 'a/x', 'b', 'é']);
  });

  it('groups the names of one inode under the bytewise-first name', async () => {
    await mkdir(path.join(dir, 'd'));
    await writeFile(path.join(dir, 'z-first'), 'x');
    await link(path.join(dir, 'z-first'), path.join(dir, 'b-second'));
    await link(path.join(dir, 'z-first'), path.join(dir, 'd', 'third'));
    await writeFile(path.join(dir, 'single'), 'y');
    // A name outside the snapshot root makes nlink 2, but is not structure inside the tree.
    await writeFile(path.join(dir, 'd', 'outside-pair'), 'z');
    await link(path.join(dir, 'd', 'outside-pair'), path.join(dir, 'outside-name'));
    const all = await snapshotTree(dir);
    const group = (p: string) => all.find((e) => e.path === p)?.nlinkGroup;
    assert.equal(group('z-first'), 'b-second');
    assert.equal(group('b-second'), 'b-second');
    assert.equal(group('d/third'), 'b-second');
    assert.equal(group('single'), undefined);
    const sub = await snapshotTree(path.join(dir, 'd'));
    assert.equal(sub.find((e) => e.path === 'outside-pair')?.nlinkGroup, undefined);
  });

  it('records owners, mtimes with nanoseconds and user xattrs in hex on request', async () => {
    const f = path.join(dir, 'f');
    await writeFile(f, 'abc');
    setXattr(f, 'user.b', Buffer.from([0, 0xff]));
    setXattr(f, 'user.a', Buffer.alloc(0));
    await utimes(f, 1_700_000_000.5, 1_700_000_000.5);
    const plain = (await snapshotTree(dir)).find((e) => e.path === 'f');
    assert.deepEqual(plain?.xattrs, { 'user.a': '', 'user.b': '00ff' });
    assert.equal(plain?.mtime, undefined);
    assert.equal(plain?.uid, undefined);
    const full = (await snapshotTree(dir, { withOwners: true, withMtime: true })).find((e) => e.path === 'f');
    assert.equal(full?.mtime, 1_700_000_000);
    assert.equal(full?.mtimeNs, 500_000_000);
    assert.equal(full?.uid, process.getuid?.());
    assert.equal(full?.gid, process.getgid?.());
  });

  it('hashes content too big to hold in one read', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'abc');
    await writeFile(path.join(dir, 'big'), big);
    const entry = (await snapshotTree(dir)).find((e) => e.path === 'big');
    assert.equal(entry?.sha256, createHash('sha256').update(big).digest('hex'));
    assert.equal(entry?.size, big.length);
  });
});
