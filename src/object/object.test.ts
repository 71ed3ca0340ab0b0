import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Catalog } from '../catalog/index.js';
import { nativeZlibCompress } from '../posix/native-deflate.js';
import { fixtureFile, fixtureManifest } from '../testing/fixture.js';
import {
  compress,
  compressSync,
  decompressSync,
  hashAlgorithm,
  hashBytes,
  LIBDEFLATE_LEVEL,
  objectPath,
  parseObjectPath,
  Xor32Chunker,
} from './index.js';

describe('hashes and object names', () => {
  it('names the well-known empty-file object', () => {
    const z = compressSync(Buffer.alloc(0));
    assert.deepEqual([...z], [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    assert.equal(hashBytes(z, 'sha1'), 'e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78');
  });

  it('compresses with libdeflate into zlib streams that inflate back, sync and async', async () => {
    // The machine has libdeflate0 (.ci/run installs it): the addon must use it, not fall back.
    assert.ok(nativeZlibCompress(Buffer.from('x'), LIBDEFLATE_LEVEL), 'libdeflate not loaded');
    const inputs = [Buffer.from('a'), Buffer.from('barge '.repeat(50_000)), randomBytes(3 << 20)];
    for (const data of inputs) {
      for (const z of [compressSync(data), await compress(data)]) {
        assert.equal(z[0], 0x78, 'zlib header');
        assert.ok(zlib.inflateSync(z).equals(data));
      }
    }
  });

  it('appends algorithm ids and suffixes like CVMFS', () => {
    const h = hashBytes(Buffer.from('x'), 'shake128');
    assert.match(h, /^[0-9a-f]{40}-shake128$/);
    assert.equal(hashAlgorithm(h), 'shake128');
    assert.equal(objectPath(h, 'P'), `data/${h.slice(0, 2)}/${h.slice(2)}P`);
    assert.deepEqual(parseObjectPath(objectPath(h, 'P')), { hash: h, suffix: 'P' });
    assert.equal(hashAlgorithm(hashBytes(Buffer.from('x'), 'rmd160')), 'rmd160');
    assert.equal(parseObjectPath('data/txn/abc'), undefined);
  });
});

describe('xor32 chunker', () => {
  it('cuts the fixture big.bin exactly where cvmfs_server cut it', () => {
    const m = fixtureManifest();
    const c = m.get('C') as string;
    const root = Catalog.open(decompressSync(fixtureFile(objectPath(c, 'C')), c));
    const big = root.lookup('/big.bin');
    assert.ok(big && big.chunks.length === 3);
    const data = Buffer.concat(
      big.chunks.map((ch) => decompressSync(fixtureFile(objectPath(ch.hash, 'P')), ch.hash)),
    );
    assert.equal(data.length, big.size);
    // Feed in odd block sizes: cut marks must not depend on how the stream is split.
    for (const block of [1 << 20, 65536 + 7, data.length]) {
      const chunker = new Xor32Chunker();
      const cuts: number[] = [];
      for (let p = 0; p < data.length; p += block) cuts.push(...chunker.feed(data.subarray(p, p + block)));
      assert.deepEqual(cuts, [big.chunks[1]?.offset, big.chunks[2]?.offset], `block size ${block}`);
    }
  });

  it('hard-cuts at the maximum chunk size on data without cut marks', () => {
    const chunker = new Xor32Chunker({ min: 64, avg: 128, max: 256 });
    assert.deepEqual(chunker.feed(Buffer.alloc(1000)), [256, 512, 768]);
  });

  it('round-trips zlib and refuses a non-zlib stream', () => {
    assert.equal(decompressSync(compressSync(Buffer.from('abc')), 'x').toString(), 'abc');
    assert.throws(() => decompressSync(Buffer.from('nope'), 'x'), { code: 'OBJECT_CORRUPT' });
  });
});
