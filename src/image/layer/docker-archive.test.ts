import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../testing/temp-dir.js';
import { openDockerArchive } from './docker-archive.js';
import type { ImageSource } from './image-source.js';
import { openOciLayout } from './oci-layout.js';
import { readLayer } from './read-layer.js';
import { SymlinkTracker } from './symlink-tracker.js';
import { collect, rejectsWith, sh } from './test-support.js';

// docker-archive tarballs as skopeo writes them (the `docker save` format: manifest.json,
// repositories, <digest>.tar layers, legacy <id>/layer.tar symlinks), read in place.

/** An umoci image (two layers, one deleting a file) saved by skopeo as archive.tar, tagged example.org/app:v2. */
function makeArchive(dir: string): string {
  sh(
    [
      'umoci init --layout img && umoci new --image img:base && umoci unpack --image img:base b1',
      'mkdir -p b1/rootfs/etc && echo hello > b1/rootfs/etc/motd && echo old > b1/rootfs/etc/old',
      'umoci repack --image img:v1 b1 && umoci unpack --image img:v1 b2 && rm b2/rootfs/etc/old',
      'umoci repack --image img:v2 b2',
      'skopeo copy -q oci:img:v2 docker-archive:archive.tar:example.org/app:v2',
    ].join(' && '),
    dir,
  );
  return path.join(dir, 'archive.tar');
}

async function paths(image: ImageSource): Promise<string[]> {
  const symlinks = new SymlinkTracker();
  const out: string[] = [];
  for (const layer of image.layers) {
    for (const entry of await collect(readLayer(await layer.open(), { digest: layer.digest, symlinks }))) {
      if (entry.type !== 'directory') out.push(`${entry.type} ${entry.path}`);
    }
  }
  return out;
}

/** Unpacks an archive, lets `change` edit it, and packs it again with GNU tar. */
function repack(dir: string, archive: string, change: (root: string) => void): string {
  const root = path.join(dir, 'unpacked');
  sh(`rm -rf ${root} && mkdir ${root} && tar -xf ${archive} -C ${root}`);
  change(root);
  const out = path.join(dir, 'repacked.tar');
  sh(`tar --format=pax -cf ${out} -C ${root} .`);
  return out;
}

describe('openDockerArchive', () => {
  it('reads a skopeo docker-archive in place, layers named by their digests', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const image = await openDockerArchive(makeArchive(dir));
      const oci = await openOciLayout(path.join(dir, 'img'), { ref: 'v2' });
      assert.equal(image.configDigest, oci.configDigest);
      assert.equal(image.manifestDigest, undefined);
      // docker-archive layers are the uncompressed tars, so their digests are the diff_ids.
      assert.deepEqual(
        image.layers.map((l) => l.digest),
        oci.config.rootfs.diff_ids,
      );
      assert.deepEqual(await paths(image), await paths(oci));
      assert.deepEqual(await paths(image), ['file etc/motd', 'file etc/old', 'whiteout etc/old']);
    } finally {
      cleanup();
    }
  });

  it('follows the legacy <id>/layer.tar names, and falls back to diff_ids where names carry no digest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = makeArchive(dir);
      const legacy = repack(dir, archive, (root) => {
        const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8'));
        const ids = JSON.parse(readFileSync(path.join(root, 'repositories'), 'utf8'))['example.org/app']
          .v2 as string;
        // The top layer's legacy directory holds a symlink to the digest-named tar; make it a
        // plain file, as docker save before 25 wrote it, and point manifest.json at both.
        const topTar = path.join(root, ids, 'layer.tar');
        const target = path.join(root, manifest[0].Layers[1]);
        rmSync(topTar);
        writeFileSync(topTar, readFileSync(target));
        rmSync(target);
        const lower = sh(`find ${root} -name layer.tar -type l`).trim().split('\n')[0]!;
        manifest[0].Layers = [path.relative(root, lower), `${ids}/layer.tar`];
        writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
      });
      const image = await openDockerArchive(legacy, { ref: 'example.org/app:v2' });
      assert.deepEqual(
        image.layers.map((l) => l.digest),
        image.config.rootfs.diff_ids,
      );
      assert.deepEqual(await paths(image), ['file etc/motd', 'file etc/old', 'whiteout etc/old']);
    } finally {
      cleanup();
    }
  });

  it('chooses an image by tag when the archive holds several', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = repack(dir, makeArchive(dir), (root) => {
        const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8'));
        manifest.push({ ...manifest[0], RepoTags: ['example.org/app:other'] });
        writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
      });
      await rejectsWith(
        openDockerArchive(archive),
        'IMAGE_NOT_FOUND',
        /holds 2 images/,
        /example\.org\/app:v2, example\.org\/app:other/,
      );
      await rejectsWith(
        openDockerArchive(archive, { ref: 'nope:1' }),
        'IMAGE_NOT_FOUND',
        /no image tagged "nope:1"/,
      );
      assert.equal((await openDockerArchive(archive, { ref: 'example.org/app:other' })).layers.length, 2);
    } finally {
      cleanup();
    }
  });

  it('refuses a layer whose bytes do not match its digest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = makeArchive(dir);
      const bytes = readFileSync(archive);
      const at = bytes.indexOf('hello\n');
      assert.ok(at > 0);
      bytes.write('HELLO\n', at);
      writeFileSync(archive, bytes);
      const image = await openDockerArchive(archive);
      await rejectsWith(paths(image), 'BLOB_DIGEST_MISMATCH', new RegExp(image.layers[0]!.digest));
    } finally {
      cleanup();
    }
  });

  it('refuses a config that does not match its digest name', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = repack(dir, makeArchive(dir), (root) => {
        const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8'));
        const config = path.join(root, manifest[0].Config);
        writeFileSync(config, readFileSync(config, 'utf8').replace('"amd64"', '"arm64"'));
      });
      await rejectsWith(openDockerArchive(archive), 'BLOB_DIGEST_MISMATCH', /config/);
    } finally {
      cleanup();
    }
  });

  it('refuses a compressed archive with a hint, and a pre-1.10 one', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = makeArchive(dir);
      sh(`gzip -k ${archive}`);
      const err = await rejectsWith(openDockerArchive(`${archive}.gz`), 'IMAGE_INVALID', /is compressed/);
      assert.match(err.hint ?? '', /gunzip/);
      const old = repack(dir, archive, (root) => rmSync(path.join(root, 'manifest.json')));
      await rejectsWith(openDockerArchive(old), 'IMAGE_INVALID', /no manifest\.json \(only `repositories`/);
      await rejectsWith(openDockerArchive(path.join(dir, 'missing.tar')), 'SOURCE_NOT_FOUND');
    } finally {
      cleanup();
    }
  });

  it('refuses a layer name that leads out of the archive through a symlink', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const archive = repack(dir, makeArchive(dir), (root) => {
        symlinkSync('../../../../etc/passwd', path.join(root, 'escape.tar'));
        const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8'));
        manifest[0].Layers[0] = 'escape.tar';
        writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
      });
      await rejectsWith(openDockerArchive(archive), 'TAR_PATH_ESCAPE', /symlink target/);
    } finally {
      cleanup();
    }
  });
});
