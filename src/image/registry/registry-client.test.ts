import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { freePort } from '../../testing/ports.js';
import { buildOciLayout, startRegistry, type TestRegistry } from '../../testing/registry.js';
import { tempDir } from '../../testing/temp-dir.js';
import { MediaType } from './media-types.js';
import { RegistryClient } from './registry-client.js';

const tmp = tempDir('barge-registry-client-');
let registry: TestRegistry;
let client: RegistryClient;
let layout: string;
const TAGS = ['1.0', '1.1', '1.2', '2.0', 'latest'];

before(async () => {
  registry = await startRegistry(path.join(tmp.dir, 'registry'));
  layout = path.join(tmp.dir, 'layout');
  buildOciLayout(
    layout,
    [
      {
        tag: 'amd64',
        platform: { os: 'linux', architecture: 'amd64' },
        layers: [{ 'etc/os-release': 'ID=barge-test\n' }, { 'usr/bin/tool': randomBytes(4096) }],
      },
      {
        tag: 'arm64',
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        layers: [{ 'etc/os-release': 'ID=barge-test-arm\n' }],
      },
    ],
    [{ tag: 'multi', of: ['amd64', 'arm64'] }],
  );
  // A separate image for zstd: skopeo reuses blobs it pushed before instead of recompressing them.
  const zstdLayout = path.join(tmp.dir, 'zstd-layout');
  buildOciLayout(zstdLayout, [{ tag: 'z', layers: [{ 'etc/zstd': 'zstd layer\n'.repeat(100) }] }]);
  await registry.push(zstdLayout, 'z', 'test/zstd:1.0', { compress: 'zstd' });
  for (const tag of TAGS) await registry.push(layout, 'amd64', `test/single:${tag}`);
  await registry.push(layout, 'multi', 'test/multi:1.0', { all: true });
  await registry.push(layout, 'multi', 'test/docker:1.0', { all: true, dockerFormat: true });
  client = new RegistryClient({ env: {}, dockerConfig: false, backoffMs: 10 });
});

after(async () => {
  client?.close();
  await registry?.stop();
  tmp.cleanup();
});

/** The bytes of a blob in the OCI layout the images were pushed from. */
function layoutBlob(digest: string): Buffer {
  return readFileSync(path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

describe('RegistryClient against docker-registry', () => {
  it('resolves a tag to its manifest, config and layers', async () => {
    const image = await client.resolve(`${registry.host}/test/single:1.0`);
    assert.equal(image.manifest.mediaType, MediaType.OCI_MANIFEST);
    assert.equal(image.indexDigest, undefined);
    assert.deepEqual(image.platform, { os: 'linux', architecture: 'amd64' });
    assert.equal(image.config.os, 'linux');
    assert.equal(image.layers.length, 2);
    for (const [i, layer] of image.layers.entries()) {
      assert.equal(layer.compression, 'gzip');
      assert.equal(layer.size, layoutBlob(layer.digest).length);
      assert.equal(layer.diffId, image.config.rootfs?.diff_ids[i]);
    }
    assert.equal(image.configDigest, image.manifest.config.digest);
    assert.equal(image.reference.registry, registry.host);
  });

  it('resolves a digest reference to the same image', async () => {
    const byTag = await client.resolve(`${registry.host}/test/single:1.0`);
    const byDigest = await client.resolve(`${registry.host}/test/single@${byTag.manifestDigest}`);
    assert.equal(byDigest.manifestDigest, byTag.manifestDigest);
    assert.deepEqual(byDigest.layers, byTag.layers);
  });

  it('picks the platform from an OCI index, linux/amd64 by default', async () => {
    const ref = `${registry.host}/test/multi:1.0`;
    const amd = await client.resolve(ref);
    const arm = await client.resolve(ref, { platform: 'linux/arm64' });
    assert.deepEqual(amd.platform, { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(arm.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(arm.layers.length, 1);
    assert.equal(amd.layers.length, 2);
    assert.ok(amd.indexDigest);
    assert.equal(amd.indexDigest, arm.indexDigest);
    assert.notEqual(amd.manifestDigest, arm.manifestDigest);
    assert.equal(
      (await client.resolve(ref, { platform: 'linux/aarch64/v8' })).manifestDigest,
      arm.manifestDigest,
    );
  });

  it('says which platforms there are when the wanted one is missing', async () => {
    await assert.rejects(
      client.resolve(`${registry.host}/test/multi:1.0`, { platform: 'linux/s390x' }),
      (err) =>
        isBargeError(err, 'PLATFORM_NOT_FOUND') &&
        err.message.includes('linux/amd64, linux/arm64/v8') &&
        err.message.includes('linux/s390x'),
    );
    await assert.rejects(
      client.resolve(`${registry.host}/test/single:1.0`, { platform: 'linux/arm64' }),
      (err) => isBargeError(err, 'PLATFORM_NOT_FOUND') && err.message.includes('it has: linux/amd64'),
    );
  });

  it('reads Docker schema 2 manifests and manifest lists', async () => {
    const ref = `${registry.host}/test/docker:1.0`;
    const top = await client.getManifest(ref);
    assert.equal(top.mediaType, MediaType.DOCKER_LIST);
    const arm = await client.resolve(ref, { platform: 'linux/arm64/v8' });
    assert.equal(arm.manifest.mediaType, MediaType.DOCKER_MANIFEST);
    assert.equal(arm.layers[0]?.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(arm.layers[0]?.compression, 'gzip');
    assert.equal(arm.indexDigest, top.digest);
  });

  it('lists the platforms of an index and of a single image', async () => {
    const multi = await client.listPlatforms(`${registry.host}/test/multi:1.0`);
    assert.deepEqual(
      multi.map((p) => p.platform),
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    );
    const single = await client.listPlatforms(`${registry.host}/test/single:1.0`);
    assert.deepEqual(
      single.map((p) => p.platform),
      [{ os: 'linux', architecture: 'amd64' }],
    );
  });

  it('reports zstd layers', async () => {
    const image = await client.resolve(`${registry.host}/test/zstd:1.0`);
    assert.deepEqual(
      image.layers.map((l) => [l.mediaType, l.compression]),
      [[MediaType.OCI_MANIFEST.replace('manifest.v1+json', 'layer.v1.tar+zstd'), 'zstd']],
    );
    const blob = await client.readBlob(
      image.reference,
      image.layers[0]?.digest ?? '',
      image.layers[0]?.size ?? 0,
    );
    // zstd frame magic (RFC 8878 §3.1.1).
    assert.equal(blob.readUInt32LE(0), 0xfd2fb528);
  });

  it('lists every tag, page by page', async () => {
    const paged = new RegistryClient({ env: {}, dockerConfig: false, tagPageSize: 2 });
    try {
      assert.deepEqual((await paged.listTags(`${registry.host}/test/single`)).sort(), [...TAGS].sort());
    } finally {
      paged.close();
    }
  });

  it('streams a blob with the bytes that were pushed', async () => {
    const image = await client.resolve(`${registry.host}/test/single:1.0`);
    const layer = image.layers[1];
    assert.ok(layer);
    const chunks: Buffer[] = [];
    for await (const chunk of client.openBlob(image.reference, layer.digest, layer.size)) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    assert.deepEqual(bytes, layoutBlob(layer.digest));
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  });

  it('fails a blob whose size differs from the descriptor', async () => {
    const image = await client.resolve(`${registry.host}/test/single:1.0`);
    const layer = image.layers[0];
    assert.ok(layer);
    await assert.rejects(
      client.readBlob(image.reference, layer.digest, layer.size + 1),
      (err) => isBargeError(err, 'BLOB_SIZE_MISMATCH') && err.message.includes(layer.digest),
    );
  });

  it('tells with a HEAD which digest a tag points to', async () => {
    const single = await client.resolve(`${registry.host}/test/single:1.1`);
    const head = await client.headManifest(`${registry.host}/test/single:1.1`);
    assert.equal(head.digest, single.manifestDigest);
    assert.equal(head.mediaType, MediaType.OCI_MANIFEST);
    const multi = await client.resolve(`${registry.host}/test/multi:1.0`);
    assert.equal((await client.headManifest(`${registry.host}/test/multi:1.0`)).digest, multi.indexDigest);
  });

  it('reports a missing tag, repository or blob as REGISTRY_NOT_FOUND', async () => {
    for (const ref of [`${registry.host}/test/single:nope`, `${registry.host}/test/none:1.0`]) {
      await assert.rejects(
        client.resolve(ref),
        (err) => isBargeError(err, 'REGISTRY_NOT_FOUND') && err.message.includes(registry.host) && !!err.hint,
      );
    }
    await assert.rejects(client.headManifest(`${registry.host}/test/single:nope`), (err) =>
      isBargeError(err, 'REGISTRY_NOT_FOUND'),
    );
    await assert.rejects(client.listTags(`${registry.host}/test/none`), (err) =>
      isBargeError(err, 'REGISTRY_NOT_FOUND'),
    );
    await assert.rejects(
      client.readBlob(`${registry.host}/test/single`, `sha256:${'0'.repeat(64)}`, 10),
      (err) => isBargeError(err, 'REGISTRY_NOT_FOUND'),
    );
  });

  it('gives up on a registry that does not listen with REGISTRY_UNAVAILABLE', async () => {
    const retries: number[] = [];
    const watched = new RegistryClient({
      env: {},
      dockerConfig: false,
      retries: 2,
      backoffMs: 5,
      onEvent: (e) => e.kind === 'retry' && retries.push(e.attempt),
    });
    try {
      const host = `127.0.0.1:${await freePort()}`;
      await assert.rejects(
        watched.resolve(`${host}/test/single:1.0`),
        (err) =>
          isBargeError(err, 'REGISTRY_UNAVAILABLE') &&
          err.message.includes(host) &&
          err.message.includes('3 attempt'),
      );
      assert.deepEqual(retries, [1, 2]);
    } finally {
      watched.close();
    }
  });
});
