import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../testing/temp-dir.js';
import type { ImageSource } from './image-source.js';
import { openOciLayout } from './oci-layout.js';
import { readLayer } from './read-layer.js';
import { SymlinkTracker } from './symlink-tracker.js';
import { collect, rejectsWith, sh } from './test-support.js';

// OCI image layouts written by umoci and skopeo: choosing an image, streaming its layers with
// every blob verified, and refusing damaged or hostile layouts.

/** An umoci layout `img` with tags v1 (one layer) and v2 (a second layer deleting a file). */
function makeLayout(dir: string): string {
  sh('umoci init --layout img && umoci new --image img:base && umoci unpack --image img:base b1', dir);
  mkdirSync(path.join(dir, 'b1/rootfs/etc'), { recursive: true });
  writeFileSync(path.join(dir, 'b1/rootfs/etc/motd'), 'hello\n');
  writeFileSync(path.join(dir, 'b1/rootfs/etc/old'), 'old\n');
  sh('umoci repack --image img:v1 b1 && umoci unpack --image img:v1 b2', dir);
  rmSync(path.join(dir, 'b2/rootfs/etc/old'));
  sh('umoci repack --image img:v2 b2', dir);
  return path.join(dir, 'img');
}

/** Every entry path of every layer, content read, digests verified. */
async function paths(image: ImageSource): Promise<string[]> {
  const symlinks = new SymlinkTracker();
  const out: string[] = [];
  for (const layer of image.layers) {
    for (const entry of await collect(readLayer(await layer.open(), { digest: layer.digest, symlinks }))) {
      out.push(`${entry.type} ${entry.path}`);
    }
  }
  return out;
}

function blobFile(layout: string, digest: string): string {
  return path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Writes a JSON blob into the layout and returns its descriptor fields. */
function putJson(layout: string, value: unknown): { digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(blobFile(layout, digest), bytes);
  return { digest, size: bytes.length };
}

describe('openOciLayout', () => {
  it('opens an umoci image by ref name and streams its verified layers', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const image = await openOciLayout(layout, { ref: 'v2' });
      assert.equal(image.layers.length, 2);
      assert.equal(image.config.rootfs.diff_ids.length, 2);
      assert.equal(image.config.architecture, 'amd64');
      const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
      const v2 = index.manifests.find(
        (m: { annotations: Record<string, string> }) =>
          m.annotations['org.opencontainers.image.ref.name'] === 'v2',
      );
      assert.equal(image.manifestDigest, v2.digest);
      assert.equal(image.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      for (const layer of image.layers) {
        assert.equal(
          layer.digest,
          `sha256:${createHash('sha256')
            .update(readFileSync(blobFile(layout, layer.digest)))
            .digest('hex')}`,
        );
      }
      const all = await paths(image);
      assert.deepEqual(all.slice(0, 4), ['directory ', 'directory etc', 'file etc/motd', 'file etc/old']);
      // umoci repeats `etc/` in the second layer only when its mtime changed within the run.
      assert.deepEqual(
        all.slice(4).filter((line) => !line.startsWith('directory')),
        ['whiteout etc/old'],
      );
      const byDigest = await openOciLayout(layout, { digest: v2.digest });
      assert.equal(byDigest.configDigest, image.configDigest);
    } finally {
      cleanup();
    }
  });

  it('reads zstd and uncompressed layers that skopeo writes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      makeLayout(dir);
      sh('skopeo copy -q --dest-compress-format zstd oci:img:v2 oci:zst:v2', dir);
      sh('skopeo copy -q --dest-decompress oci:img:v2 dir:plain-dir', dir);
      sh('skopeo copy -q --dest-oci-accept-uncompressed-layers dir:plain-dir oci:plain:v2', dir);
      const expected = await paths(await openOciLayout(path.join(dir, 'img'), { ref: 'v2' }));
      for (const [name, mediaType] of [
        ['zst', 'application/vnd.oci.image.layer.v1.tar+zstd'],
        ['plain', 'application/vnd.oci.image.layer.v1.tar'],
      ]) {
        const image = await openOciLayout(path.join(dir, name as string));
        assert.equal(image.layers[0]?.mediaType, mediaType);
        assert.deepEqual(await paths(image), expected, name);
      }
    } finally {
      cleanup();
    }
  });

  it('asks which image when the layout holds several, and lists them', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      await rejectsWith(openOciLayout(layout), 'IMAGE_NOT_FOUND', /holds 3 images/, /base, v1, v2/);
      await rejectsWith(
        openOciLayout(layout, { ref: 'v9' }),
        'IMAGE_NOT_FOUND',
        /no image named "v9"/,
        /base, v1, v2/,
      );
    } finally {
      cleanup();
    }
  });

  it('chooses a platform from a multi-platform index', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
      const manifest = (ref: string) =>
        index.manifests.find(
          (m: { annotations: Record<string, string> }) =>
            m.annotations['org.opencontainers.image.ref.name'] === ref,
        );
      const nested = putJson(layout, {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            ...manifest('v1'),
            annotations: undefined,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
          { ...manifest('v2'), annotations: undefined, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      });
      index.manifests.push({
        mediaType: 'application/vnd.oci.image.index.v1+json',
        ...nested,
        annotations: { 'org.opencontainers.image.ref.name': 'multi' },
      });
      writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
      assert.equal((await openOciLayout(layout, { ref: 'multi' })).manifestDigest, manifest('v2').digest);
      const arm = await openOciLayout(layout, {
        ref: 'multi',
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      });
      assert.equal(arm.manifestDigest, manifest('v1').digest);
      await rejectsWith(
        openOciLayout(layout, { ref: 'multi', platform: { os: 'linux', architecture: 's390x' } }),
        'PLATFORM_NOT_FOUND',
        /no image for linux\/s390x \(it has: linux\/arm64\/v8, linux\/amd64\)/,
      );
    } finally {
      cleanup();
    }
  });

  it('refuses a layer blob whose digest does not match, when its stream ends', async () => {
    const { dir, cleanup } = tempDir();
    try {
      makeLayout(dir);
      sh('skopeo copy -q --dest-decompress oci:img:v1 dir:plain-dir', dir);
      sh('skopeo copy -q --dest-oci-accept-uncompressed-layers dir:plain-dir oci:plain:v1', dir);
      const layout = path.join(dir, 'plain');
      const image = await openOciLayout(layout);
      const file = blobFile(layout, image.layers[0]!.digest);
      const bytes = readFileSync(file);
      const at = bytes.indexOf('hello');
      bytes.write('HELLO', at);
      writeFileSync(file, bytes);
      // The tar itself is intact, so every entry is read; the mismatch is thrown at the end.
      const seen: string[] = [];
      const err = await rejectsWith(
        (async () => {
          for await (const entry of readLayer(await image.layers[0]!.open(), {
            digest: image.layers[0]!.digest,
          }))
            seen.push(entry.path);
        })(),
        'BLOB_DIGEST_MISMATCH',
        new RegExp(image.layers[0]!.digest),
      );
      assert.ok(seen.includes('etc/motd'));
      assert.match(err.hint ?? '', /fetch or export the image again/);
    } finally {
      cleanup();
    }
  });

  it('refuses a gzip layer blob with a changed byte before decompressing garbage', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const image = await openOciLayout(layout, { ref: 'v1' });
      const file = blobFile(layout, image.layers[0]!.digest);
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
      writeFileSync(file, bytes);
      await rejectsWith(
        (async () => {
          for await (const _ of (await image.layers[0]!.open()) as AsyncIterable<Buffer>);
        })(),
        'BLOB_DIGEST_MISMATCH',
        /has digest sha256:/,
      );
    } finally {
      cleanup();
    }
  });

  it('refuses a layer blob of the wrong size when the image is opened', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const image = await openOciLayout(layout, { ref: 'v1' });
      truncateSync(blobFile(layout, image.layers[0]!.digest), 10);
      await rejectsWith(openOciLayout(layout, { ref: 'v1' }), 'BLOB_SIZE_MISMATCH', /has 10 bytes/);
    } finally {
      cleanup();
    }
  });

  it('refuses a changed manifest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const image = await openOciLayout(layout, { ref: 'v1' });
      const file = blobFile(layout, image.manifestDigest!);
      writeFileSync(file, readFileSync(file, 'utf8').replace('tar+gzip', 'tar+gzIp'));
      await rejectsWith(
        openOciLayout(layout, { ref: 'v1' }),
        'BLOB_DIGEST_MISMATCH',
        new RegExp(image.manifestDigest!),
      );
    } finally {
      cleanup();
    }
  });

  it('reports a missing layer blob', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      const image = await openOciLayout(layout, { ref: 'v2' });
      rmSync(blobFile(layout, image.layers[1]!.digest));
      await rejectsWith(openOciLayout(layout, { ref: 'v2' }), 'BLOB_NOT_FOUND', /is missing/);
    } finally {
      cleanup();
    }
  });

  it('refuses a digest that would lead out of blobs/', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const layout = makeLayout(dir);
      writeFileSync(path.join(dir, 'secret'), '{}');
      writeFileSync(
        path.join(layout, 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: 'sha256:../../../secret',
              size: 2,
            },
          ],
        }),
      );
      await rejectsWith(openOciLayout(layout), 'IMAGE_INVALID', /is not a sha256 or sha512 digest/);
    } finally {
      cleanup();
    }
  });

  it('says when a directory is not an OCI layout', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await rejectsWith(openOciLayout(dir), 'SOURCE_NOT_FOUND', /no oci-layout/);
      writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
      await rejectsWith(openOciLayout(dir), 'IMAGE_INVALID', /imageLayoutVersion "2.0.0"/);
    } finally {
      cleanup();
    }
  });
});
