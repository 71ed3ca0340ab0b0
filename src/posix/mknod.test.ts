import assert from 'node:assert/strict';
import { constants, lstatSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { major, makedev, minor, mknod } from './index.js';

const { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } = constants;
const isRoot = process.getuid?.() === 0;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-mknod-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** mknod, or undefined when this process lacks CAP_MKNOD (root in a user namespace). */
function tryDevice(p: string, mode: number, dev: number): true | undefined {
  try {
    mknod(p, mode, dev);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return undefined;
    throw err;
  }
}

describe('mknod', () => {
  it('makes a fifo and a unix socket without privileges', () => {
    const old = process.umask(0);
    try {
      mknod(path.join(dir, 'fifo'), S_IFIFO | 0o640);
      mknod(path.join(dir, 'sock'), S_IFSOCK | 0o755);
    } finally {
      process.umask(old);
    }
    const fifo = lstatSync(path.join(dir, 'fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o640);
    const sock = lstatSync(path.join(dir, 'sock'));
    assert.ok(sock.isSocket());
    assert.equal(sock.mode & 0o7777, 0o755);
  });

  it('applies the umask like mknod(2)', () => {
    const old = process.umask(0o077);
    try {
      mknod(path.join(dir, 'fifo'), S_IFIFO | 0o666);
    } finally {
      process.umask(old);
    }
    assert.equal(lstatSync(path.join(dir, 'fifo')).mode & 0o7777, 0o600);
  });

  it('makes char and block devices with the given numbers as root', {
    skip: !isRoot && 'needs root',
  }, (t) => {
    const chr = path.join(dir, 'chr');
    const blk = path.join(dir, 'blk');
    if (!tryDevice(chr, S_IFCHR | 0o600, makedev(1, 3))) return t.skip('no CAP_MKNOD');
    assert.ok(tryDevice(blk, S_IFBLK | 0o660, makedev(259, 123456)));
    const c = lstatSync(chr);
    assert.ok(c.isCharacterDevice());
    assert.deepEqual([major(c.rdev), minor(c.rdev)], [1, 3]);
    const b = lstatSync(blk);
    assert.ok(b.isBlockDevice());
    assert.deepEqual([major(b.rdev), minor(b.rdev)], [259, 123456]);
  });

  it('reports EEXIST and ENOENT like fs errors', () => {
    const p = path.join(dir, 'fifo');
    mknod(p, S_IFIFO | 0o644);
    assert.throws(() => mknod(p, S_IFIFO | 0o644), { code: 'EEXIST', syscall: 'mknod', path: p, errno: -17 });
    const deep = path.join(dir, 'no', 'such', 'dir');
    assert.throws(
      () => mknod(deep, S_IFIFO | 0o644),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.message, `ENOENT: no such file or directory, mknod '${deep}'`);
        return true;
      },
    );
  });

  it('refuses modes and device numbers that are not non-negative integers', () => {
    const p = path.join(dir, 'x');
    assert.throws(() => mknod(p, -1, 0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => mknod(p, S_IFIFO | 0o644, 1.5), { name: 'RangeError' });
    assert.throws(() => mknod(p, '420' as unknown as number, 0), { name: 'TypeError' });
  });
});

describe('device numbers', () => {
  it("encodes like the kernel's rdev", { skip: !statSync('/dev/null', { throwIfNoEntry: false }) }, () => {
    const rdev = statSync('/dev/null').rdev;
    assert.equal(makedev(1, 3), rdev);
    assert.deepEqual([major(rdev), minor(rdev)], [1, 3]);
  });

  const cases: Array<[number, number]> = [
    [0, 0],
    [8, 1],
    [259, 123456],
    [4095, 0xfffff], // the largest numbers the kernel's 12+20 bit dev_t holds
    [0x1fffff, 0xffffffff],
  ];
  for (const [maj, min] of cases) {
    it(`splits makedev(${maj}, ${min}) back into its parts`, () => {
      const dev = makedev(maj, min);
      assert.deepEqual([major(dev), minor(dev)], [maj, min]);
    });
  }

  it('refuses a device number a JS number cannot hold exactly', () => {
    assert.throws(() => makedev(0xffffffff, 0), { name: 'RangeError' });
  });
});
