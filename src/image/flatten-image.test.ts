import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S_IFCHR } from '../catalog/index.js';
import { pull } from '../client/index.js';
import { makedev, mknod, setXattr } from '../posix/index.js';
import { initRepository, Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { diffTrees, snapshotTree } from '../testing/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { flattenImage } from './index.js';
import { openOciLayout } from './layer/index.js';

const FQRN = 'images.example.org';
const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Builds a two-layer image with umoci: every entry kind in the base, then deletions and an opaque directory. */
async function buildImage(dir: string): Promise<string> {
  const layout = path.join(dir, 'layout');
  const bundle = path.join(dir, 'bundle');
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:img`);
  umoci('unpack', '--rootless', '--image', `${layout}:img`, bundle);
  const rootfs = path.join(bundle, 'rootfs');
  const w = (rel: string, data: string | Buffer, mode = 0o644) =>
    fsp.writeFile(path.join(rootfs, rel), data, { mode });
  await fsp.mkdir(path.join(rootfs, 'etc'), { recursive: true });
  await fsp.mkdir(path.join(rootfs, 'usr/bin'), { recursive: true });
  await fsp.mkdir(path.join(rootfs, 'opaque/keep-not'), { recursive: true });
  await w('etc/os-release', 'ID=barge-test\n');
  await w('etc/gone', 'removed in layer 2\n');
  await w('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755);
  await w('usr/bin/big', Buffer.alloc(6 << 20, 7));
  await w('opaque/keep-not/x', 'hidden by the opaque dir\n');
  await w('opaque/old', 'also hidden\n');
  await w('turns-into-dir', 'a file in layer 1\n');
  await fsp.symlink('../etc/os-release', path.join(rootfs, 'usr/os-release'));
  await fsp.link(path.join(rootfs, 'usr/bin/tool'), path.join(rootfs, 'usr/bin/tool-link'));
  execFileSync('mkfifo', [path.join(rootfs, 'etc/fifo')]);
  // A device node (as root): kept as a CVMFS special file, never failing the image.
  if (process.getuid?.() === 0) mknod(path.join(rootfs, 'etc/null-copy'), S_IFCHR | 0o666, makedev(1, 3));
  await fsp.chmod(path.join(rootfs, 'usr/bin/tool'), 0o4755);
  try {
    setXattr(path.join(rootfs, 'etc/os-release'), 'user.origin', Buffer.from('layer1'));
  } catch {
    // no user xattrs on this file system: the rest still compares
  }
  // --refresh-bundle: the next repack diffs against this layer, so it stacks a second one.
  umoci('repack', '--refresh-bundle', '--image', `${layout}:img`, bundle);
  // Layer 2: a whiteout, an opaque directory, a file turned into a directory, a change.
  await fsp.rm(path.join(rootfs, 'etc/gone'));
  await fsp.rm(path.join(rootfs, 'opaque'), { recursive: true });
  await fsp.mkdir(path.join(rootfs, 'opaque'));
  await w('opaque/new', 'only this survives\n');
  await fsp.rm(path.join(rootfs, 'turns-into-dir'));
  await fsp.mkdir(path.join(rootfs, 'turns-into-dir'));
  await w('turns-into-dir/inside', 'now a directory\n');
  await w('etc/os-release', 'ID=barge-test\nVERSION=2\n');
  umoci('repack', '--image', `${layout}:img`, bundle);
  return layout;
}

describe('flatten an image into the repository', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  let layout = '';
  before(async () => {
    layout = await buildImage(tmp.dir);
    await initRepository(data, FQRN);
  });
  after(tmp.cleanup);

  it('publishes the tree umoci unpack --rootless makes of the same image, file by file', async () => {
    const image = await openOciLayout(layout, { ref: 'img' });
    const hex = image.configDigest.replace(/^sha256:/, '');
    const root = `/.flat/${hex.slice(0, 2)}/${hex}`;
    const publisher = await Publisher.open(data, FQRN);
    try {
      const r = await publisher.applyChanges(async (tree, writer) => {
        const stats = await flattenImage(image, { tree, writer, root, algorithm: 'sha1' });
        assert.equal(stats.layers, 2);
        assert.ok(stats.whiteouts >= 1);
      });
      assert.equal(r.published, true);
    } finally {
      await publisher.close();
    }
    const served = path.join(data, 'repos', FQRN);
    const pub = path.join(data, 'keys', `${FQRN}.pub`);
    assertConformant(served, pub);

    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const out = path.join(tmp.dir, 'pulled');
    await pull(reader, out, { path: root, owners: false });
    await reader.close();
    const reference = path.join(tmp.dir, 'reference');
    umoci('unpack', '--rootless', '--image', `${layout}:img`, reference);
    const [want, got] = await Promise.all([snapshotTree(path.join(reference, 'rootfs')), snapshotTree(out)]);
    const diff = diffTrees(want, got, {
      labels: ['umoci', 'barge'],
      // The nested-catalog marker is barge's (as DUCC's); hardlinks across directories become
      // copies; a rootless unpack cannot make device nodes (checked on their own below).
      skip: (p) => p === '.cvmfscatalog' || p === 'etc/null-copy',
      ignore: ['hardlinks', 'directoryMtime'],
    });
    assert.deepEqual(diff, []);
    if (process.getuid?.() === 0) {
      const dev = got.find((e) => e.path === 'etc/null-copy');
      assert.equal(dev?.type, 'char');
      assert.equal(dev?.rdev, makedev(1, 3));
    }
  });
});
