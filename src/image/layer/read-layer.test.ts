import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildTar, type TarMember } from '../../testing/tar-builder.js';
import { tempDir } from '../../testing/temp-dir.js';
import { openOciLayout } from './oci-layout.js';
import { readLayer } from './read-layer.js';
import { SymlinkTracker } from './symlink-tracker.js';
import { chunked, collect, sh } from './test-support.js';
import { whiteoutMark } from './whiteout.js';

// Whiteouts and opaque directories as umoci writes them (OCI image spec, layer.md "Whiteouts"),
// and the symlink tracker carried across the layers of an image.

const LAYER = 'sha256:3333333333333333333333333333333333333333333333333333333333333333';

/** Every layer of an OCI layout image, read in order with one tracker, as `type path` lines. */
async function readImage(layout: string, ref: string): Promise<string[][]> {
  const image = await openOciLayout(layout, { ref });
  const symlinks = new SymlinkTracker();
  const out: string[][] = [];
  for (const layer of image.layers) {
    const entries = await collect(readLayer(await layer.open(), { digest: layer.digest, symlinks }));
    out.push(entries.map((e) => `${e.type} ${e.path}`));
  }
  return out;
}

describe('readLayer', () => {
  it('yields the whiteouts umoci repack writes for deleted files and directories', async () => {
    const { dir, cleanup } = tempDir();
    try {
      sh('umoci init --layout img && umoci new --image img:base && umoci unpack --image img:base b1', dir);
      mkdirSync(path.join(dir, 'b1/rootfs/etc/d'), { recursive: true });
      writeFileSync(path.join(dir, 'b1/rootfs/etc/a'), 'a');
      writeFileSync(path.join(dir, 'b1/rootfs/etc/d/f'), 'f');
      sh('umoci repack --image img:v1 b1 && umoci unpack --image img:v1 b2', dir);
      rmSync(path.join(dir, 'b2/rootfs/etc/a'));
      rmSync(path.join(dir, 'b2/rootfs/etc/d'), { recursive: true });
      writeFileSync(path.join(dir, 'b2/rootfs/etc/new'), 'new');
      sh('umoci repack --image img:v2 b2', dir);
      const [first, second] = await readImage(path.join(dir, 'img'), 'v2');
      assert.deepEqual(first, [
        'directory ',
        'directory etc',
        'file etc/a',
        'directory etc/d',
        'file etc/d/f',
      ]);
      assert.deepEqual(second?.filter((line) => !line.startsWith('directory')).sort(), [
        'file etc/new',
        'whiteout etc/a',
        'whiteout etc/d',
      ]);
    } finally {
      cleanup();
    }
  });

  it('yields opaque directories and skips AUFS metadata in a layer added with umoci raw add-layer', async () => {
    const { dir, cleanup } = tempDir();
    try {
      sh('umoci init --layout img && umoci new --image img:base && umoci unpack --image img:base b1', dir);
      mkdirSync(path.join(dir, 'b1/rootfs/opt/old'), { recursive: true });
      sh('ln -s /usr/lib b1/rootfs/opt/old/lib && umoci repack --image img:v1 b1', dir);
      const layer = path.join(dir, 'layer');
      mkdirSync(path.join(layer, 'opt/old'), { recursive: true });
      mkdirSync(path.join(layer, '.wh..wh.plnk'));
      writeFileSync(path.join(layer, 'opt/.wh..wh..opq'), '');
      writeFileSync(path.join(layer, '.wh..wh.plnk/1234.56'), 'aufs hard link store');
      writeFileSync(path.join(layer, 'opt/old/lib'), 'now a file');
      sh(
        'tar --format=pax --sort=name -cf layer.tar -C layer . && umoci raw add-layer --image img:v1 --tag v2 layer.tar',
        dir,
      );
      const [, added] = await readImage(path.join(dir, 'img'), 'v2');
      assert.deepEqual(added, [
        'directory ',
        'directory opt',
        'opaque opt',
        'directory opt/old',
        'file opt/old/lib',
      ]);
    } finally {
      cleanup();
    }
  });

  it('lets an opaque directory hide the symlinks below it, but not those of its own layer', async () => {
    const symlinks = new SymlinkTracker();
    const layer = (members: TarMember[]) =>
      collect(readLayer(chunked(buildTar(members)), { digest: LAYER, symlinks }));
    await layer([
      { name: 'a/', type: '5' },
      { name: 'a/low', type: '2', linkname: '/' },
    ]);
    await layer([
      { name: 'a/same', type: '2', linkname: '/' },
      { name: 'a/.wh..wh..opq', content: '' },
    ]);
    assert.equal(symlinks.isSymlink('a/low'), false);
    assert.equal(symlinks.isSymlink('a/same'), true);
    assert.equal(symlinks.symlinkedParent('a/low/x'), undefined);
    assert.equal(symlinks.symlinkedParent('a/same/x'), 'a/same');
  });

  it('forgets the symlinks under a directory that a later layer replaces with a file', async () => {
    const symlinks = new SymlinkTracker();
    const layer = (members: TarMember[]) =>
      collect(readLayer(chunked(buildTar(members)), { digest: LAYER, symlinks }));
    await layer([
      { name: 'd/', type: '5' },
      { name: 'd/s', type: '2', linkname: '/' },
    ]);
    await layer([{ name: 'd', content: 'file now' }]);
    assert.equal(symlinks.isSymlink('d/s'), false);
    assert.equal(symlinks.isSymlink('d'), false);
  });

  const marks: [string, ReturnType<typeof whiteoutMark>][] = [
    ['etc/motd', { kind: 'entry' }],
    ['etc/.wh.motd', { kind: 'whiteout', path: 'etc/motd' }],
    ['.wh.etc', { kind: 'whiteout', path: 'etc' }],
    ['usr/.wh..wh..opq', { kind: 'opaque', path: 'usr' }],
    ['.wh..wh..opq', { kind: 'opaque', path: '' }],
    ['.wh..wh.plnk', { kind: 'meta' }],
    ['.wh..wh.plnk/123.4', { kind: 'meta' }],
    ['a/.wh..wh.aufs', { kind: 'meta' }],
    ['a/b.wh.c', { kind: 'entry' }],
  ];
  for (const [name, mark] of marks) {
    it(`classifies ${name} as ${mark.kind}`, () => {
      assert.deepEqual(whiteoutMark(name, { layer: LAYER }), mark);
    });
  }
});
