import { constants } from 'node:fs';
import path from 'node:path';
import { makedev } from '../posix/index.js';
import type { TestTreeOptions, TreeFeature } from './make-test-tree.js';
import type { SeededRandom } from './seeded-random.js';
import { textContent } from './test-tree-content.js';
import { canChown, canMknodDevice, canSetUserXattr } from './test-tree-probes.js';
import type { TreeBuilder } from './tree-builder.js';

const { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } = constants;
const isRoot = process.getuid?.() === 0;
const MIB = 1024 * 1024;

/** What a step gets: the seed and options, the selection, a seeded stream per label. */
export interface StepContext {
  seed: number | string;
  options: TestTreeOptions;
  has: (feature: TreeFeature) => boolean;
  /** Records that this process cannot make the feature at all; the step then returns. */
  unavailable: (reason: string) => void;
  /** Records a part of the feature this process cannot make. */
  skipPart: (reason: string) => void;
  rng: (label: string) => SeededRandom;
}

/** Creates the entries of one feature. */
export type Step = (b: TreeBuilder, ctx: StepContext) => Promise<void>;

/** One step per feature, run in TREE_FEATURES order (xattrs decorates entries of earlier steps). */
export const STEPS: Record<TreeFeature, Step> = {
  async files(b, { rng }) {
    const sizes: Array<[string, number]> = [
      ['one-byte', 1],
      ['page-minus-one', 4095],
      ['page', 4096],
      ['page-plus-one', 4097],
      ['64k-random', 65536],
      ['1m-plus-one', MIB + 1],
    ];
    await b.file('hello.txt', 'hello, barge\n');
    await b.file('files/empty', '');
    await b.file('files/empty-too', '');
    await b.file('files/text-small', textContent(rng('text-small'), 100));
    await b.file('files/64k-text', textContent(rng('64k-text'), 65536));
    for (const [name, size] of sizes) await b.file(`files/${name}`, rng(name).bytes(size));
    // Same content under two unrelated names: one object in the store, two catalog rows.
    const dup = rng('dup').bytes(10000);
    await b.file('files/dup-a', dup);
    await b.file('files/dup-b', dup);
    await b.file('files/run.sh', '#!/bin/sh\necho barge\n', 0o755);
    // Holes read back as zeros: the published file must hold all 8 MiB, not just the data runs.
    await b.sparseFile('files/sparse', 8 * MIB, [
      [0, rng('sparse-head').bytes(1000)],
      [5 * MIB, rng('sparse-mid').bytes(1000)],
    ]);
  },

  async bigFile(b, { seed, options, unavailable }) {
    const size = options.bigFileSize ?? 50 * MIB;
    if (size <= 0) return unavailable('bigFileSize is 0');
    await b.bigFile('big/big.bin', size, seed);
  },

  async directories(b, { rng }) {
    await b.file('dirs/a/b/c/d/e/f/g/h/leaf.txt', textContent(rng('leaf'), 300));
    await b.dir('dirs/empty');
    await b.dir('dirs/a/b/empty-inner');
    // 100 siblings: enough that listing order and per-directory counts are really exercised.
    for (let i = 0; i < 100; i++) await b.file(`dirs/many/f${String(i).padStart(3, '0')}`, `file ${i}\n`);
  },

  async symlinks(b) {
    await b.file('links/target.txt', 'link target\n');
    await b.symlink('links/relative', 'target.txt');
    await b.symlink('links/up-and-down', '../links/target.txt');
    await b.symlink('links/to-dir', '../links');
    await b.symlink('links/absolute', '/usr/bin/env');
    await b.symlink('links/absolute-cvmfs', '/cvmfs/barge.test/some/where');
    await b.symlink('links/dangling', 'does/not/exist');
    await b.symlink('links/chain', 'relative');
    await b.symlink('links/loop', 'loop');
    await b.symlink('links/long-target', `${'long-component/'.repeat(60)}end`);
  },

  async hardlinks(b, { rng }) {
    // Three names for one inode in one directory, and a second pair: CVMFS hardlink groups.
    await b.file('hardlinks/original', rng('original').bytes(5000), 0o640);
    await b.hardlink('hardlinks/original', 'hardlinks/same-dir-1');
    await b.hardlink('hardlinks/original', 'hardlinks/same-dir-2');
    await b.file('hardlinks/pair-a', 'a pair\n');
    await b.hardlink('hardlinks/pair-a', 'hardlinks/pair-b');
  },

  async crossDirectoryHardlinks(b) {
    // CVMFS keeps hardlink groups per directory; names in different directories test what a
    // publisher does with links it cannot express.
    await b.file('hardlinks/cross', 'linked across directories\n');
    await b.hardlink('hardlinks/cross', 'hardlinks/sub/cross');
    await b.hardlink('hardlinks/cross', 'files/cross-from-hardlinks');
  },

  async fifo(b) {
    await b.node('special/fifo', S_IFIFO | 0o644);
  },

  async socket(b) {
    // mknod(S_IFSOCK) makes a socket inode without binding (and unlinking) a live socket.
    await b.node('special/socket', S_IFSOCK | 0o755);
  },

  async devices(b, { unavailable }) {
    if (!isRoot) return unavailable('char and block devices need root');
    const devices: Array<[string, number, number, number]> = [
      ['special/char-null', S_IFCHR | 0o666, 1, 3],
      ['special/char-big-minor', S_IFCHR | 0o600, 240, 300000],
      ['special/block-loop', S_IFBLK | 0o660, 7, 0],
      ['special/block-nvme', S_IFBLK | 0o660, 259, 65537],
    ];
    await b.dir('special');
    if (!(await canMknodDevice(b.abs('special/.probe'))))
      return unavailable('mknod of a device was refused (no CAP_MKNOD)');
    for (const [rel, mode, maj, min] of devices) await b.node(rel, mode, makedev(maj, min));
  },

  async oddNames(b) {
    const names = [
      'with space',
      ' leading-space',
      'trailing-space ',
      '-leading-dash',
      '--double-dash',
      'ünïcødé',
      '日本語のファイル',
      'emoji-😀',
      'tab\there',
      'new\nline',
      "quote'single",
      'quote"double',
      'back\\slash',
      'glob*?[x]',
      '#hash%percent&amp',
      '.hidden',
      '..two-dots',
      'CASE',
      'case',
      'n'.repeat(255), // NAME_MAX bytes, ASCII
      `${'é'.repeat(127)}x`, // NAME_MAX bytes, 128 characters
    ];
    for (const name of names) await b.file(`odd/${name}`, `${name}\n`);
    await b.file('odd/dir with space/ünïcødé file', 'nested odd name\n');
  },

  async specialModes(b, { skipPart }) {
    const files: Array<[string, number]> = [
      ['setuid', 0o4755],
      ['setgid', 0o2755],
      ['setuid-setgid', 0o6755],
      ['sticky-file', 0o1644],
      ['read-only', 0o444],
      ['owner-only', 0o600],
      ['group-read', 0o640],
      ['others-only', 0o604],
      ['exec-only', 0o711],
    ];
    for (const [name, mode] of files) await b.file(`modes/${name}`, `${name}\n`, mode);
    // Nobody but root can read it back, so only root gets one.
    if (isRoot) await b.file('modes/no-access', 'mode 0\n', 0o000);
    else skipPart('a mode-0 file needs root to read back');
    await b.file('modes/sticky-dir/inside', 'in /tmp-like dir\n');
    await b.dir('modes/sticky-dir', 0o1777);
    await b.file('modes/setgid-dir/inside', 'inherits the group\n');
    await b.dir('modes/setgid-dir', 0o2775);
    await b.file('modes/private-dir/inside', 'private\n');
    await b.dir('modes/private-dir', 0o700);
    await b.file('modes/traverse-only-dir/inside', 'reachable, not listable by others\n');
    await b.dir('modes/traverse-only-dir', 0o711);
    // Read-only directory, kept empty: a non-root owner could not delete children of it.
    await b.dir('modes/read-only-dir', 0o555);
  },

  async owners(b, { unavailable }) {
    if (!isRoot) return unavailable('chown to other users needs root');
    if (!(await canChown(b.abs('.owner-probe')))) return unavailable('chown to other ids was refused');
    await b.file('owners/user-1000', 'uid 1000\n');
    b.set('owners/user-1000', { uid: 1000, gid: 1000 });
    await b.file('owners/nobody', 'nobody\n');
    b.set('owners/nobody', { uid: 65534, gid: 65534 });
    await b.file('owners/large-ids', 'ids past 2^31\n');
    b.set('owners/large-ids', { uid: 3_000_000_000, gid: 3_000_000_001 });
    await b.file('owners/setuid-1000', 'chown must not clear this setuid\n', 0o4755);
    b.set('owners/setuid-1000', { uid: 1000, gid: 100 });
    await b.file('owners/dir-12345/inside', 'owned dir\n');
    b.set('owners/dir-12345', { uid: 12345, gid: 54321 });
    await b.symlink('owners/link-4242', 'user-1000');
    b.set('owners/link-4242', { uid: 4242, gid: 4242 });
  },

  async mtimes(b) {
    // Boundaries: the epoch, the last 32-bit second and the first past it, a far future, a
    // sub-second value; every other entry gets a seeded one from TreeBuilder.
    const times: Array<[string, number]> = [
      ['epoch', 0],
      ['one-second', 1],
      ['y2038-last', 2 ** 31 - 1],
      ['y2038-first', 2 ** 31],
      ['year-2100', 4_102_444_800],
      ['quarter-second', 1_700_000_000.25],
    ];
    for (const [name, t] of times) {
      await b.file(`mtimes/${name}`, `${t}\n`);
      b.set(`mtimes/${name}`, { mtime: t });
    }
    await b.dir('mtimes/old-dir');
    b.set('mtimes/old-dir', { mtime: 86_400 });
    await b.symlink('mtimes/link', 'epoch');
    b.set('mtimes/link', { mtime: 1_234_567_890 });
  },

  async xattrs(b, { rng, has, unavailable }) {
    if (!(await canSetUserXattr(b.abs('.xattr-probe'))))
      return unavailable('the filesystem has no user xattrs');
    await b.file('xattrs/file', 'has xattrs\n');
    b.set('xattrs/file', {
      xattrs: new Map([
        ['user.barge.text', Buffer.from('plain text')],
        ['user.barge.binary', Buffer.from([0, 1, 2, 0, 0xff, 0xfe, 0])],
        ['user.barge.empty', Buffer.alloc(0)],
        ['user.barge.random', rng('random').bytes(2000)],
        ['user.ünïcødé', Buffer.from('utf-8 name')],
      ]),
    });
    await b.dir('xattrs/dir');
    b.set('xattrs/dir', { xattrs: new Map([['user.barge.dir', Buffer.from('on a directory')]]) });
    b.set('', { xattrs: new Map([['user.barge.root', Buffer.from([0])]]) });
    if (has('hardlinks')) {
      b.set('hardlinks/original', {
        xattrs: new Map([['user.barge.linked', Buffer.from('shared by 3 names')]]),
      });
    }
  },

  async nestedCatalogs(b, { options, rng }) {
    for (const dir of options.nestedCatalogs ?? ['nested', 'nested/inner']) {
      await b.dir(dir);
      await b.file(`${dir}/.cvmfscatalog`, '');
      await b.file(`${dir}/data.bin`, rng(dir).bytes(3000));
      await b.file(`${dir}/sub/notes.txt`, `inside the catalog of ${dir}\n`);
    }
  },

  async random(b, { options, rng }) {
    const r = rng('tree');
    const dirs = ['random'];
    const files: string[] = [];
    await b.dir('random');
    const alphabet = [...'abcdefghijklmnopqrstuvwxyz0123456789-_.äöü '];
    for (let i = 0; i < (options.randomEntries ?? 24); i++) {
      const parent = r.pick(dirs);
      let name = '';
      while (name === '' || name === '.' || name === '..' || b.has(`${parent}/${name}`)) {
        name = Array.from({ length: 1 + r.int(16) }, () => r.pick(alphabet)).join('');
      }
      const rel = `${parent}/${name}`;
      const kind = r.int(10);
      if (kind < 3) {
        await b.dir(rel);
        dirs.push(rel);
      } else if (kind < 9 || files.length === 0) {
        const size = r.pick([0, r.int(100), r.int(5000), r.int(200_000)]);
        await b.file(rel, r.int(2) ? r.bytes(size) : textContent(r, size));
        files.push(rel);
      } else {
        await b.symlink(rel, path.posix.relative(parent, r.pick(files)));
      }
    }
  },
};
