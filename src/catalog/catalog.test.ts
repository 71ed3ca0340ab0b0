import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decompressSync, objectPath } from '../object/index.js';
import { fixtureFile, fixtureManifest } from '../testing/fixture.js';
import { addCounters, Catalog, entryKind, pathKey, writeCatalog, zeroCounters } from './index.js';

function fixtureCatalog(hash: string, mountpoint = ''): Catalog {
  return Catalog.open(decompressSync(fixtureFile(objectPath(hash, 'C')), hash), mountpoint);
}

describe('path keys', () => {
  const vectors: [string, bigint, bigint][] = [
    ['', 338333539836370388n, 9098107892288553193n - 2n ** 64n],
    ['/foo', 5745132282796244766n, -5819618580357280866n],
    [
      '/lib/lhcb/ALIGNMENT/ALIGNMENT_v9r2/Phys/CommonParticles/tests/qmtest/commonparticles.qms/.svn/tmp/prop-base',
      4069996547627848455n,
      -3471940481646685085n,
    ],
  ];
  for (const [p, a, b] of vectors) {
    it(`splits MD5('${p.slice(0, 20)}') into signed little-endian halves`, () => {
      // The spec prints the root's second half unsigned; the stored value is its signed form.
      assert.deepEqual(pathKey(p), [a, BigInt.asIntN(64, b)]);
    });
  }
});

describe('reading the fixture catalogs', () => {
  const manifest = fixtureManifest();
  const root = fixtureCatalog(manifest.get('C') as string);

  it('reads properties, revision and TTL of the root catalog', () => {
    assert.equal(root.revision, 3);
    assert.equal(root.ttl, 240);
    assert.equal(root.schemaRevision, 6);
    assert.equal(root.mountpoint, '');
    assert.equal(root.previousRevision, '606c00695af423d608bfe53ab19844cb501b2767');
  });

  it('looks entries up by path and decodes every kind', () => {
    const hello = root.lookup('/etc/hello.txt');
    assert.ok(hello);
    assert.equal(hello.size, 19);
    assert.equal(hello.xattrs?.get('user.fixture')?.toString(), 'attribute-value');
    assert.equal(entryKind(root.lookup('/etc/fifo')?.mode ?? 0), 'fifo');
    assert.equal(root.lookup('/etc/link-relative')?.symlink, 'hello.txt');
    const big = root.lookup('/big.bin');
    assert.equal(big?.hash, null);
    assert.deepEqual(
      big?.chunks.map((c) => [c.offset, c.size]),
      [
        [0, 11734267],
        [11734267, 6374360],
        [18108627, 2862940],
      ],
    );
    assert.equal(root.lookup('/sub/nested')?.nestedMountpoint, true);
    assert.equal(root.lookup('/does/not/exist'), undefined);
  });

  it('lists a directory sorted by name', () => {
    assert.deepEqual(
      root.list('/etc').map((d) => d.name),
      [
        'added.txt',
        'empty-file',
        'fifo',
        'hardlink-a',
        'hardlink-b',
        'hello.txt',
        'link-absolute',
        'link-relative',
      ],
    );
  });

  it('rebuilds full paths for every row and reads the nested catalog by its root prefix', () => {
    const entries = root.entries();
    assert.equal(entries.length, root.rowCount());
    assert.ok(entries.some((e) => e.path === '/odd names/grüße-ü.txt'));
    const [ref] = root.nestedCatalogs();
    assert.equal(ref?.path, '/sub/nested');
    const nested = fixtureCatalog(ref?.hash as string, '/sub/nested');
    assert.equal(nested.mountpoint, '/sub/nested');
    assert.equal(nested.previousRevision, null);
    assert.deepEqual(
      nested
        .entries()
        .map((e) => e.path)
        .sort(),
      [
        '/sub/nested',
        '/sub/nested/.cvmfscatalog',
        '/sub/nested/deeper',
        '/sub/nested/deeper/deep.txt',
        '/sub/nested/inside.txt',
      ],
    );
    const { self, subtree } = root.statistics();
    assert.deepEqual(subtree, addCounters(nested.statistics().self, nested.statistics().subtree));
    assert.equal(self.regular, 211);
  });
});

describe('writing catalogs', () => {
  const manifest = fixtureManifest();
  const root = fixtureCatalog(manifest.get('C') as string);

  it('rewrites the fixture root catalog with the same rows, counters and properties', () => {
    const entries = root.entries();
    const { subtree, self } = root.statistics();
    const written = writeCatalog({
      mountpoint: '',
      entries,
      nested: root.nestedCatalogs(),
      revision: root.revision,
      lastModified: root.lastModified,
      previousRevision: root.previousRevision,
      ttl: 240,
      subtree,
    });
    assert.deepEqual(written.self, self, 'counters computed from rows equal the server-written ones');
    const again = Catalog.open(written.bytes);
    const byPath = (list: typeof entries) => [...list].sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(byPath(again.entries()), byPath(entries));
    assert.deepEqual([...again.properties].sort(), [...root.properties].sort());
    assert.equal(written.bytes[18], 1, 'rollback journal, not WAL');
    assert.equal(written.bytes.readUInt16BE(16), 4096);
  });

  it('refuses a catalog without its root entry', () => {
    assert.throws(
      () =>
        writeCatalog({
          mountpoint: '/a',
          entries: [],
          nested: [],
          revision: 1,
          lastModified: 0,
          previousRevision: null,
          subtree: zeroCounters(),
        }),
      { code: 'CATALOG_INVALID' },
    );
  });
});
