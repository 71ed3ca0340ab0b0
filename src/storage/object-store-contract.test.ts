import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { type Rgw, startRgw } from '../testing/rgw.js';
import { tempDir } from '../testing/temp-dir.js';
import { FsObjectStore } from './fs-store.js';
import { MemoryObjectStore } from './memory-store.js';
import { objectStoreContract } from './object-store-contract.js';
import { S3ObjectStore, type S3StoreOptions } from './s3-store.js';

objectStoreContract('filesystem', async () => {
  const { dir, cleanup } = tempDir('barge-store-');
  const store = new FsObjectStore(dir, { durable: false });
  await store.initLayout();
  return { store, cleanup };
});

objectStoreContract('memory', async () => ({ store: new MemoryObjectStore(), cleanup: () => {} }));

// One RGW for this file; each test gets its own key prefix in one bucket.
let rgw: Rgw | undefined;
const BUCKET = 'contract';
const s3Options = (overrides: Partial<S3StoreOptions> = {}): S3StoreOptions => {
  if (!rgw) throw new Error('RGW is not running');
  return {
    endpoint: rgw.endpoint,
    bucket: BUCKET,
    root: `t-${randomBytes(6).toString('hex')}/sw.example.org/`,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
    ...overrides,
  };
};
before(async () => {
  rgw = await startRgw();
  await new S3ObjectStore(s3Options()).ensureBucket();
});
after(async () => {
  await rgw?.stop();
});

objectStoreContract('S3 on Ceph RGW', async () => {
  const store = new S3ObjectStore(s3Options());
  return { store, cleanup: () => store.close() };
});

describe('S3 store on Ceph RGW', () => {
  it('gives each object the cache lifetime barge serve would send', async () => {
    const store = new S3ObjectStore(s3Options());
    await store.put('data/ab/cd', Buffer.from('object'));
    await store.put('.cvmfspublished', Buffer.from('manifest'));
    const object = await store.client.send({ method: 'HEAD', key: `${store.root}data/ab/cd` });
    const manifest = await store.client.send({ method: 'HEAD', key: `${store.root}.cvmfspublished` });
    assert.equal(object.headers['cache-control'], 'max-age=259200');
    assert.equal(manifest.headers['cache-control'], 'max-age=61');
    store.close();
  });

  it('streams a byte range of an object', async () => {
    const store = new S3ObjectStore(s3Options());
    await store.put('data/ab/range', Buffer.from('0123456789'));
    const read = await store.read('data/ab/range', 'bytes=2-5');
    const chunks: Buffer[] = [];
    for await (const c of read.body) chunks.push(c as Buffer);
    assert.equal(read.status, 206);
    assert.equal(read.contentRange, 'bytes 2-5/10');
    assert.equal(Buffer.concat(chunks).toString(), '2345');
    const missing = await store.read('data/ab/none');
    missing.body.resume();
    assert.equal(missing.status, 404);
    store.close();
  });

  it('refuses a wrong secret as STORAGE_DENIED, without the secret in the message', async () => {
    const secret = 'not-the-secret-4711';
    const store = new S3ObjectStore(
      s3Options({ credentials: { accessKeyId: rgw?.accessKey ?? '', secretAccessKey: secret } }),
    );
    await assert.rejects(store.put('data/00/x', Buffer.from('x')), (e) => {
      assert.ok(e instanceof BargeError && e.code === 'STORAGE_DENIED', String(e));
      assert.ok(!e.message.includes(secret) && !(e.hint ?? '').includes(secret));
      return true;
    });
    store.close();
  });

  it('names a missing bucket STORAGE_BUCKET_NOT_FOUND', async () => {
    const store = new S3ObjectStore(s3Options({ bucket: 'no-such-bucket' }));
    await assert.rejects(
      store.get('.cvmfspublished'),
      (e) => (e as BargeError).code === 'STORAGE_BUCKET_NOT_FOUND',
    );
    await assert.rejects(
      store.put('.cvmfspublished', Buffer.from('x')),
      (e) => (e as BargeError).code === 'STORAGE_BUCKET_NOT_FOUND',
    );
    store.close();
  });

  it('refuses keys with . or .. segments (a server could normalise them away)', async () => {
    const store = new S3ObjectStore(s3Options());
    for (const key of ['../x', 'data/../../x', 'data//x', './x']) {
      await assert.rejects(
        store.put(key, Buffer.from('x')),
        (e) => (e as BargeError).code === 'INVALID_PATH',
        key,
      );
    }
    store.close();
  });

  it('retries throttling, 5xx and dropped connections, then succeeds', async () => {
    // A proxy in front of RGW that fails the first requests in three ways, then forwards.
    const faults = ['503', 'slowdown', 'reset', '500'];
    const seen: string[] = [];
    const target = new URL(rgw?.endpoint ?? '');
    const proxy = http.createServer((req, res) => {
      const fault = faults.shift();
      seen.push(fault ?? 'forwarded');
      if (fault === 'reset') return req.socket.destroy();
      if (fault === '503' || fault === '500') {
        res.writeHead(Number(fault)).end();
        return;
      }
      if (fault === 'slowdown') {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>');
        return;
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    const store = new S3ObjectStore(s3Options({ endpoint: `http://127.0.0.1:${port}`, attempts: 6 }));
    try {
      assert.equal(await store.put('data/aa/retried', Buffer.from('made it')), true);
      assert.deepEqual(seen, ['503', 'slowdown', 'reset', '500', 'forwarded']);
      assert.equal((await store.get('data/aa/retried')).toString(), 'made it');
    } finally {
      store.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('gives up on an endpoint that does not answer with STORAGE_UNAVAILABLE', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const store = new S3ObjectStore(s3Options({ endpoint: `http://127.0.0.1:${closed}`, attempts: 2 }));
    await assert.rejects(store.has('data/00/x'), (e) => (e as BargeError).code === 'STORAGE_UNAVAILABLE');
    store.close();
  });
});
