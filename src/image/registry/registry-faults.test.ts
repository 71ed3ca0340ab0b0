import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { buildOciLayout, startRegistry, type TestRegistry } from '../../testing/registry.js';
import { tempDir } from '../../testing/temp-dir.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';
import type { RegistryEvent } from './registry-event.js';
import type { LayerInfo } from './resolved-image.js';

const tmp = tempDir('barge-registry-faults-');
const USER = { username: 'barge', password: 's3cret-pass' };
let registry: TestRegistry;
let proxy: FaultProxy;
let big: LayerInfo;
let bigBytes: Buffer;
let ref: string;

before(async () => {
  registry = await startRegistry(path.join(tmp.dir, 'registry'));
  const layout = path.join(tmp.dir, 'layout');
  // Random bytes do not compress: the layer blob stays about 512 KiB, many TCP segments long.
  buildOciLayout(layout, [
    { tag: 'img', layers: [{ 'etc/small': 'small\n' }, { 'data/big.bin': randomBytes(512 << 10) }] },
  ]);
  await registry.push(layout, 'img', 'test/app:1.0');
  proxy = await startFaultProxy(registry.url);
  ref = `${proxy.host}/test/app:1.0`;
  const client = new RegistryClient({ env: {}, dockerConfig: false });
  const image = await client.resolve(`${registry.host}/test/app:1.0`);
  big = image.layers[1] as LayerInfo;
  bigBytes = await client.readBlob(image.reference, big.digest, big.size, 1 << 30);
  client.close();
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
  tmp.cleanup();
});

beforeEach(() => {
  proxy.rules.length = 0;
  proxy.requests.length = 0;
});

/** A client with fast retries that records its events; closed by `body`'s end. */
async function withClient<T>(
  body: (client: RegistryClient, events: RegistryEvent[]) => Promise<T>,
  options: RegistryClientOptions = {},
): Promise<T> {
  const events: RegistryEvent[] = [];
  const client = new RegistryClient({
    env: {},
    dockerConfig: false,
    backoffMs: 10,
    retries: 3,
    onEvent: (e) => events.push(e),
    ...options,
  });
  try {
    return await body(client, events);
  } finally {
    client.close();
  }
}

const blobPath = () => new RegExp(`/blobs/${big.digest}$`);

async function download(client: RegistryClient): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.openBlob(ref, big.digest, big.size)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('retries', () => {
  it('retries a 503 with backoff and then succeeds', async () => {
    proxy.rules.push({ path: /\/manifests\//, action: { kind: 'status', status: 503 }, times: 2 });
    await withClient(async (client, events) => {
      const image = await client.resolve(ref);
      assert.equal(image.layers.length, 2);
      const retries = events.filter((e) => e.kind === 'retry');
      assert.deepEqual(
        retries.map((e) => e.kind === 'retry' && e.attempt),
        [1, 2],
      );
      assert.ok(retries.every((e) => e.kind === 'retry' && e.reason.includes('503')));
    });
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    proxy.rules.push({
      path: /\/manifests\//,
      action: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } },
      times: 1,
    });
    await withClient(async (client, events) => {
      const started = Date.now();
      await client.resolve(ref);
      assert.ok(Date.now() - started >= 1000, 'waited for Retry-After');
      const retry = events.find((e) => e.kind === 'retry');
      assert.ok(retry?.kind === 'retry' && retry.delayMs >= 1000);
    });
  });

  it('fails at once with REGISTRY_RATE_LIMITED when Retry-After is too far away', async () => {
    proxy.rules.push({
      path: /\/manifests\//,
      action: {
        kind: 'status',
        status: 429,
        headers: { 'Retry-After': '3600', 'Content-Type': 'application/json' },
        body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'pull rate limit' }] }),
      },
    });
    await withClient((client) =>
      assert.rejects(
        client.resolve(ref),
        (err) =>
          isBargeError(err, 'REGISTRY_RATE_LIMITED') &&
          err.message.includes('TOOMANYREQUESTS') &&
          proxy.requests.length === 1,
      ),
    );
  });

  it('gives up after the bounded attempts with REGISTRY_UNAVAILABLE', async () => {
    proxy.rules.push({ path: /\/manifests\//, action: { kind: 'status', status: 502 } });
    await withClient((client) =>
      assert.rejects(
        client.resolve(ref),
        (err) =>
          isBargeError(err, 'REGISTRY_UNAVAILABLE') &&
          err.message.includes(proxy.host) &&
          err.message.includes('test/app:1.0') &&
          proxy.requests.length === 4,
      ),
    );
  });

  it('fetches a manifest again when its body is cut short', async () => {
    proxy.rules.push({ path: /\/manifests\//, action: { kind: 'cut', afterBytes: 20 }, times: 1 });
    await withClient(async (client, events) => {
      assert.equal((await client.resolve(ref)).layers.length, 2);
      assert.equal(events.filter((e) => e.kind === 'retry').length, 1);
    });
  });
});

describe('blob downloads', () => {
  it('resumes a broken download with a Range request', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'cut', afterBytes: 100_000 }, times: 2 });
    await withClient(async (client, events) => {
      assert.deepEqual(await download(client), bigBytes);
      const resumes = events.filter((e) => e.kind === 'resume');
      assert.equal(resumes.length, 2);
      const ranges = proxy.requests.map((r) => r.headers.range).filter(Boolean);
      assert.deepEqual(ranges, ['bytes=100000-', 'bytes=200000-']);
    });
  });

  it('starts again, skipping what it has, when the registry ignores Range', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'cut', afterBytes: 150_000 }, times: 1 });
    proxy.rules.push({ path: blobPath(), action: { kind: 'ignore-range' } });
    await withClient(async (client, events) => {
      assert.deepEqual(await download(client), bigBytes);
      assert.deepEqual(
        events.filter((e) => e.kind !== 'retry'),
        [{ kind: 'restart', digest: big.digest, offset: 150_000 }],
      );
    });
  });

  it('gives up on a stalled connection after the idle timeout, then resumes', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'stall', afterBytes: 50_000 }, times: 1 });
    await withClient(
      async (client, events) => {
        assert.deepEqual(await download(client), bigBytes);
        assert.deepEqual(
          events.filter((e) => e.kind === 'resume'),
          [{ kind: 'resume', digest: big.digest, offset: 50_000 }],
        );
      },
      { timeoutMs: 300 },
    );
  });

  it('stops downloading when the consumer destroys the stream', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'stall', afterBytes: 50_000 } });
    await withClient(async (client) => {
      const stream = client.openBlob(ref, big.digest, big.size);
      let received = 0;
      await new Promise<void>((resolve) => {
        stream.on('data', (chunk: Buffer) => {
          received += chunk.length;
          // Wait until the stall, so the stream is destroyed while it awaits the body.
          if (received === 50_000) setTimeout(resolve, 50);
        });
      });
      const closed = new Promise((resolve) => stream.once('close', resolve));
      stream.destroy();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(proxy.requests.filter((r) => blobPath().test(r.path)).length, 1);
    });
  });

  it('gives up when attempts make no progress', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'cut', afterBytes: 0 } });
    await withClient((client) =>
      assert.rejects(
        download(client),
        (err) => isBargeError(err, 'REGISTRY_UNAVAILABLE') && err.message.includes(big.digest),
      ),
    );
  });

  it('fails with BLOB_DIGEST_MISMATCH when a proxy changes the bytes', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'corrupt' } });
    await withClient((client) =>
      assert.rejects(
        download(client),
        (err) =>
          isBargeError(err, 'BLOB_DIGEST_MISMATCH') &&
          err.message.includes(big.digest) &&
          err.details?.expected === big.digest,
      ),
    );
  });

  it('fails with BLOB_SIZE_MISMATCH when more bytes arrive than the descriptor says', async () => {
    proxy.rules.push({ path: blobPath(), action: { kind: 'extra', bytes: 10 } });
    await withClient((client) =>
      assert.rejects(download(client), (err) => isBargeError(err, 'BLOB_SIZE_MISMATCH')),
    );
  });
});

describe('redirects', () => {
  it('follows a blob redirect to storage without the registry credentials', async () => {
    const guarded = await startRegistry(path.join(tmp.dir, 'guarded'), { auth: 'basic', users: [USER] });
    const authorization = `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`;
    // The "storage" holds its own access (as a pre-signed URL does) and lets us see what arrives.
    const storage = await startFaultProxy(guarded.url, { authorization });
    const front = await startFaultProxy(guarded.url);
    try {
      const layout = path.join(tmp.dir, 'guarded-layout');
      buildOciLayout(layout, [{ tag: 'img', layers: [{ 'etc/guarded': 'yes\n' }] }]);
      await guarded.push(layout, 'img', 'test/guarded:1.0');
      front.rules.push({ path: /\/blobs\//, action: { kind: 'redirect', to: storage.url } });
      const image = await withClient((client) => client.resolve(`${front.host}/test/guarded:1.0`), {
        credentials: { [front.host]: USER },
      });
      assert.equal(image.config.os, 'linux');
      const blobGets = storage.requests.filter((r) => r.path.includes('/blobs/'));
      assert.ok(blobGets.length > 0, 'the config blob came from storage');
      assert.ok(blobGets.every((r) => r.headers.authorization === undefined));
      assert.ok(front.requests.some((r) => r.headers.authorization === authorization));
    } finally {
      await front.stop();
      await storage.stop();
      await guarded.stop();
    }
  });
});
