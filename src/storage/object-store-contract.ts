import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { missingKeys } from './missing-keys.js';
import type { ObjectStore, StoredObject } from './object-store.js';

/** A fresh, empty store for one test, and how to dispose of it. */
export type StoreFactory = () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> | void }>;

/** Deterministic bytes from a seed: an AES-CTR key stream (incompressible, and fast at 16 MB). */
function bytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

async function listAll(store: ObjectStore, prefix: string): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const o of store.list(prefix)) out.push(o);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A key in the served layout: data/<2 hex>/<38 hex><suffix>, named after its content as objects are. */
function objectKey(content: Buffer | string, suffix = ''): string {
  const hex = createHash('sha1').update(content).digest('hex');
  return `data/${hex.slice(0, 2)}/${hex.slice(2)}${suffix}`;
}

/**
 * The ObjectStore contract: what every backend (filesystem, S3, memory) must do, as tests. Call it
 * inside a test file with a factory that makes an empty store per test; `large` sets the size of
 * the large-object case (above the S3 store's multipart threshold by default).
 */
export function objectStoreContract(
  name: string,
  factory: StoreFactory,
  options: { large?: number } = {},
): void {
  const large = options.large ?? (16 << 20) + 12345;
  const withStore = (title: string, body: (store: ObjectStore) => Promise<void>) =>
    it(title, async () => {
      const { store, cleanup } = await factory();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });

  describe(`ObjectStore contract: ${name}`, () => {
    withStore('returns what was put, with its size', async (store) => {
      const data = bytes(100_000, 'a');
      const key = objectKey(data);
      assert.equal(await store.put(key, data), true);
      assert.deepEqual(await store.get(key), data);
      assert.equal(await store.size(key), data.length);
      assert.equal(await store.has(key), true);
    });

    withStore('reports an absent key as absent, and get() as OBJECT_NOT_FOUND', async (store) => {
      const key = objectKey('nothing');
      assert.equal(await store.has(key), false);
      assert.equal(await store.size(key), undefined);
      await assert.rejects(store.get(key), (e) => e instanceof BargeError && e.code === 'OBJECT_NOT_FOUND');
    });

    withStore('stores an empty object', async (store) => {
      const key = objectKey('', 'P');
      assert.equal(await store.put(key, Buffer.alloc(0)), true);
      assert.equal(await store.size(key), 0);
      assert.deepEqual(await store.get(key), Buffer.alloc(0));
    });

    withStore('skips an existing key with ifAbsent and keeps its bytes', async (store) => {
      const key = objectKey('content');
      assert.equal(await store.put(key, Buffer.from('first'), { ifAbsent: true }), true);
      assert.equal(await store.put(key, Buffer.from('second'), { ifAbsent: true }), false);
      assert.equal((await store.get(key)).toString(), 'first');
    });

    withStore('replaces a key without ifAbsent (the manifest swap)', async (store) => {
      await store.put('.cvmfspublished', Buffer.from('revision 1'));
      await store.put('.cvmfspublished', Buffer.from('revision 2, longer'));
      assert.equal((await store.get('.cvmfspublished')).toString(), 'revision 2, longer');
      assert.equal(await store.size('.cvmfspublished'), 18);
    });

    withStore('accepts the same object put many times at once (content-addressed race)', async (store) => {
      const data = bytes(50_000, 'race');
      const key = objectKey(data);
      const written = await Promise.all(
        Array.from({ length: 8 }, () => store.put(key, data, { ifAbsent: true })),
      );
      assert.ok(written.includes(true), 'one of the racing puts wrote the object');
      assert.deepEqual(await store.get(key), data);
    });

    withStore('stores a subarray view exactly (not its whole backing buffer)', async (store) => {
      const backing = bytes(4096, 'view');
      const view = backing.subarray(1000, 3000);
      const key = objectKey(view);
      await store.put(key, view);
      assert.deepEqual(await store.get(key), Buffer.from(view));
    });

    withStore(`stores a large object (${large} bytes) whole`, async (store) => {
      const data = bytes(large, 'large');
      const key = objectKey(data, 'P');
      assert.equal(await store.put(key, data, { ifAbsent: true }), true);
      assert.equal(await store.size(key), large);
      assert.ok((await store.get(key)).equals(data));
      assert.equal(await store.put(key, data, { ifAbsent: true }), false);
    });

    withStore('lists keys under a prefix, relative to the store, with sizes', async (store) => {
      await store.put('.cvmfspublished', Buffer.from('m'));
      await store.put('.cvmfswhitelist', Buffer.from('wl'));
      await store.put('data/ab/0001', Buffer.from('one'));
      await store.put('data/ab/0002C', Buffer.from('two!'));
      await store.put('data/cd/0003', Buffer.from('three'));
      assert.deepEqual(await listAll(store, 'data/'), [
        { key: 'data/ab/0001', size: 3 },
        { key: 'data/ab/0002C', size: 4 },
        { key: 'data/cd/0003', size: 5 },
      ]);
      assert.deepEqual(
        (await listAll(store, 'data/ab/')).map((o) => o.key),
        ['data/ab/0001', 'data/ab/0002C'],
      );
      assert.deepEqual(await listAll(store, 'data/ef/'), []);
      assert.deepEqual(
        (await listAll(store, '')).map((o) => o.key),
        ['.cvmfspublished', '.cvmfswhitelist', 'data/ab/0001', 'data/ab/0002C', 'data/cd/0003'],
      );
    });

    withStore(
      'lists, checks and deletes more keys than one request carries (1,000 for S3)',
      async (store) => {
        // One directory, so that the S3 store's listing and bulk check both need several pages.
        const name = (i: number, salt = '') =>
          `data/5e/${createHash('sha1').update(`${salt}${i}`).digest('hex').slice(2)}`;
        const keys = Array.from({ length: 1234 }, (_, i) => name(i));
        for (let i = 0; i < keys.length; i += 100) {
          await Promise.all(keys.slice(i, i + 100).map((k) => store.put(k, Buffer.from(k))));
        }
        const listed = await listAll(store, 'data/');
        assert.equal(listed.length, keys.length);
        assert.deepEqual(new Set(listed.map((o) => o.key)), new Set(keys));
        const absent = Array.from({ length: 40 }, (_, i) => name(i, 'absent'));
        const probe = [...keys.filter((_, i) => i % 31 === 0), ...absent];
        assert.deepEqual(new Set(await missingKeys(store, probe)), new Set(absent));
        await store.delete(keys.slice(0, 1100));
        const left = await listAll(store, 'data/');
        assert.deepEqual(new Set(left.map((o) => o.key)), new Set(keys.slice(1100)));
        assert.equal(await store.has(keys[0] as string), false);
        assert.equal(await store.has(keys[1200] as string), true);
        assert.deepEqual((await missingKeys(store, keys)).length, 1100);
      },
    );

    withStore('tells which keys are missing, neighbours and other directories included', async (store) => {
      const dense = Array.from({ length: 12 }, (_, i) => `data/7f/${String(i * 2).padStart(38, '0')}`);
      const sparse = [objectKey('one'), objectKey('two')];
      for (const k of [...dense, ...sparse, '.cvmfspublished']) await store.put(k, Buffer.from(k));
      const third = dense[3] as string;
      const absent = [
        `${third}P`, // sorts right after a present key
        third.slice(0, -1), // a prefix of a present key, sorts right before it
        `data/7f/${String(1).padStart(38, '0')}`, // between two present keys
        `data/7f/${'f'.repeat(38)}`, // after the last
        `data/7f/${'0'.repeat(37)}`, // before the first
        objectKey('three'),
        '.cvmfsreflog',
      ];
      const asked = [...dense, ...sparse, '.cvmfspublished', ...absent, dense[0] as string];
      assert.deepEqual(new Set(await missingKeys(store, asked)), new Set(absent));
      assert.deepEqual(await missingKeys(store, []), []);
    });

    withStore('deletes in bulk, absent keys included, and nothing else', async (store) => {
      await store.put('data/00/keep', Buffer.from('k'));
      await store.put('data/00/gone', Buffer.from('g'));
      await store.delete(['data/00/gone', 'data/00/never-was', 'data/ff/never-was']);
      await store.delete([]);
      assert.equal(await store.has('data/00/gone'), false);
      assert.equal(await store.has('data/00/keep'), true);
    });

    withStore('flushes (a durable point before the manifest)', async (store) => {
      await store.put('data/00/x', Buffer.from('x'));
      await store.flush();
      assert.equal(await store.has('data/00/x'), true);
    });

    withStore('keeps a key that is a prefix of another apart from it', async (store) => {
      await store.put('data/ab/cdef', Buffer.from('whole file'));
      await store.put('data/ab/cdefP', Buffer.from('partial'));
      assert.equal((await store.get('data/ab/cdef')).toString(), 'whole file');
      await store.delete(['data/ab/cdef']);
      assert.equal((await store.get('data/ab/cdefP')).toString(), 'partial');
    });
  });
}
