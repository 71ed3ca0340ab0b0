import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Dirent, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../catalog/index.js';
import { pull } from '../client/index.js';
import { initRepository, Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { diffTrees, snapshotTree } from '../testing/index.js';
import { buildTar, type TarMember } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { applyStagedTarball, type StagedTarball, stageTarball } from './tarball.js';
import type { TarballBody } from './tarball-meter.js';
import {
  chunked,
  gnuTar,
  gzip,
  memoryWriter,
  rejectsWith,
  storedContent,
  zstd,
} from './tarball-test-support.js';

const FQRN = 'usercode.example.org';
const BIG = randomBytes(6 << 20);
const RUN = '#!/bin/sh\necho run\n';
const MOD = 'def f():\n    return 42\n';

/** A user code directory like those in analysis tarballs: scripts, a symlink, a hard link, a big file. */
async function makeSource(dir: string): Promise<void> {
  const w = async (rel: string, data: string | Buffer, mode = 0o644) => {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), data);
    await fsp.chmod(path.join(dir, rel), mode);
  };
  await w('bin/run.sh', RUN, 0o755);
  await fsp.symlink('run.sh', path.join(dir, 'bin/latest'));
  await fsp.link(path.join(dir, 'bin/run.sh'), path.join(dir, 'bin/run-copy'));
  await w('lib/python/pkg/__init__.py', '');
  await w('lib/python/pkg/mod.py', MOD);
  await w('data/big.bin', BIG);
  await w('name with spaces.txt', 'spaces\n');
  await w('caf\u00e9.txt', 'unicode\n');
  await fsp.mkdir(path.join(dir, 'empty'));
}

const SOURCE_PATHS = [
  '',
  '.cvmfscatalog',
  'bin',
  'bin/latest',
  'bin/run-copy',
  'bin/run.sh',
  'caf\u00e9.txt',
  'data',
  'data/big.bin',
  'empty',
  'lib',
  'lib/python',
  'lib/python/pkg',
  'lib/python/pkg/__init__.py',
  'lib/python/pkg/mod.py',
  'name with spaces.txt',
];

function byPath(staged: StagedTarball): Map<string, Dirent> {
  return new Map(staged.entries.map((d) => [d.path, d]));
}

describe('stage a tarball', () => {
  const tmp = tempDir();
  const src = path.join(tmp.dir, 'src');
  let plain: Buffer;
  before(async () => {
    await makeSource(src);
    // Owned by someone on the uploader's machine: published as root all the same.
    plain = gnuTar(['-C', src, '--owner=1234', '--group=5678', '--numeric-owner', '-cf', '-', '.'], tmp.dir);
  });
  after(tmp.cleanup);

  const kinds: [string, () => Buffer][] = [
    ['gzip', () => gzip(plain)],
    ['zstd', () => zstd(plain)],
    ['plain', () => plain],
  ];
  for (const [kind, make] of kinds) {
    it(`stages a ${kind} tarball made by GNU tar: entries, contents, symlink, hard link, nested directories`, async () => {
      const bytes = make();
      // Small chunk sizes, so that the 6 MiB file is certainly cut into several chunks.
      const { store, writer } = memoryWriter({ min: 256 << 10, avg: 512 << 10, max: 1 << 20 });
      const staged = await stageTarball(chunked(bytes, 10_000), { writer, algorithm: 'sha1', label: kind });
      assert.equal(staged.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(staged.compressedBytes, bytes.length);
      assert.deepEqual(staged.entries.map((d) => d.path).sort(), SOURCE_PATHS);
      assert.deepEqual(
        staged.entries.slice(0, 2).map((d) => d.path),
        ['', '.cvmfscatalog'],
      );
      const at = byPath(staged);
      const run = at.get('bin/run.sh')!;
      assert.equal(run.mode, S_IFREG | 0o755);
      assert.equal((await storedContent(store, run)).toString(), RUN);
      // The hard link is a separate file with the same content object.
      const copy = at.get('bin/run-copy')!;
      assert.equal(copy.hash, run.hash);
      assert.equal(copy.name, 'run-copy');
      assert.equal(copy.mode, run.mode);
      assert.equal(at.get('bin/latest')?.symlink, 'run.sh');
      assert.equal(at.get('bin/latest')!.mode & S_IFMT, S_IFLNK);
      assert.equal(at.get('lib/python/pkg')!.mode & S_IFMT, S_IFDIR);
      assert.equal((await storedContent(store, at.get('lib/python/pkg/mod.py')!)).toString(), MOD);
      assert.equal(at.get('lib/python/pkg/__init__.py')?.size, 0);
      // Over the minimum chunk size: stored in chunks, read back whole.
      const big = at.get('data/big.bin')!;
      assert.ok(big.chunks.length > 1, 'the big file is chunked');
      assert.ok((await storedContent(store, big)).equals(BIG));
      assert.equal((await storedContent(store, at.get('.cvmfscatalog')!)).length, 0);
      for (const d of staged.entries) {
        assert.equal(d.uid, 0, d.path);
        assert.equal(d.gid, 0, d.path);
      }
      assert.equal(staged.files, 7);
      assert.equal(
        staged.bytes,
        BIG.length + 2 * RUN.length + MOD.length + 'spaces\n'.length + 'unicode\n'.length,
      );
      // Parents come before their children, so the entries apply in order.
      const seen = new Set<string>();
      for (const d of staged.entries) {
        if (d.path !== '')
          assert.ok(seen.has(d.path.includes('/') ? path.posix.dirname(d.path) : ''), d.path);
        seen.add(d.path);
      }
    });
  }

  it('reads a Node stream (as an HTTP request body arrives)', async () => {
    const file = path.join(tmp.dir, 'code.tgz');
    const bytes = gzip(plain);
    await fsp.writeFile(file, bytes);
    const { writer } = memoryWriter();
    const staged = await stageTarball(createReadStream(file, { highWaterMark: 4096 }), {
      writer,
      algorithm: 'sha1',
    });
    assert.equal(staged.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(staged.entries.length, SOURCE_PATHS.length);
  });

  it('leaves a refused Node stream body undestroyed, so an HTTP server can still answer on it', async () => {
    const body = Readable.from(chunked(gzip(plain), 1024));
    const { writer } = memoryWriter();
    await rejectsWith(
      stageTarball(body, { writer, algorithm: 'sha1', limits: { maxEntries: 3 } }),
      'TARBALL_TOO_MANY_ENTRIES',
    );
    assert.equal(body.destroyed, false);
  });
});

describe('stage tarball members', () => {
  async function stage(members: TarMember[], body?: TarballBody) {
    const { store, writer } = memoryWriter();
    const staged = await stageTarball(body ?? chunked(gzip(buildTar(members))), {
      writer,
      algorithm: 'sha1',
    });
    return { staged, at: byPath(staged), store };
  }

  it('publishes modes readable by all, without setuid or setgid, owned by root, mtimes kept', async () => {
    const { at } = await stage([
      { name: 'private/', type: '5', mode: 0o700, uid: 1000, gid: 1000, mtime: 1_600_000_000 },
      { name: 'private/secret', content: 's', mode: 0o600, uid: 1000, mtime: 1_500_000_000 },
      { name: 'suid', content: 'x', mode: 0o6755 },
      { name: 'sticky/', type: '5', mode: 0o1777 },
    ]);
    assert.equal(at.get('private')?.mode, S_IFDIR | 0o755);
    assert.equal(at.get('private')?.mtime, 1_600_000_000);
    assert.equal(at.get('private/secret')?.mode, S_IFREG | 0o644);
    assert.equal(at.get('private/secret')?.mtime, 1_500_000_000);
    assert.equal(at.get('private/secret')?.uid, 0);
    assert.equal(at.get('suid')?.mode, S_IFREG | 0o755);
    assert.equal(at.get('sticky')?.mode, S_IFDIR | 0o1777);
  });

  it('keeps user.* xattrs up to 255 bytes and drops the rest', async () => {
    const { at } = await stage([
      {
        name: 'f',
        content: 'x',
        pax: {
          'SCHILY.xattr.user.origin': 'fermilab',
          'SCHILY.xattr.user.big': 'b'.repeat(300),
          'SCHILY.xattr.security.selinux': 'system_u:object_r:bin_t:s0',
        },
      },
    ]);
    assert.deepEqual([...(at.get('f')?.xattrs ?? new Map()).keys()], ['user.origin']);
  });

  it('makes the directories a tarball only implies, and gives an unlisted root its newest mtime', async () => {
    const { staged, at } = await stage([{ name: 'a/b/c', content: 'deep', mtime: 1_650_000_000 }]);
    assert.deepEqual(
      staged.entries.map((d) => d.path),
      ['', '.cvmfscatalog', 'a', 'a/b', 'a/b/c'],
    );
    assert.equal(at.get('a/b')?.mode, S_IFDIR | 0o755);
    assert.equal(at.get('')?.mtime, 1_650_000_000);
  });

  it("takes the root's metadata from the tarball's ./ entry", async () => {
    const { at } = await stage([
      { name: './', type: '5', mode: 0o700, mtime: 1_234_567_890 },
      { name: './x' },
    ]);
    assert.equal(at.get('')?.mode, S_IFDIR | 0o755);
    assert.equal(at.get('')?.mtime, 1_234_567_890);
  });

  it('leaves out the catalog markers a tarball carries: the upload is one catalog', async () => {
    const { staged } = await stage([
      { name: '.cvmfscatalog', content: '' },
      { name: 'sub/.cvmfscatalog', content: '' },
      { name: 'sub/x', content: 'x' },
    ]);
    assert.deepEqual(
      staged.entries.map((d) => d.path),
      ['', '.cvmfscatalog', 'sub', 'sub/x'],
    );
  });

  it('lets a later member replace an earlier one, as tar extracts them', async () => {
    const { at, store } = await stage([
      { name: 'x', content: 'first' },
      { name: 'd/', type: '5' },
      { name: 'd/y', content: 'y' },
      { name: 'x', content: 'second' },
      { name: 'd/', type: '5', mode: 0o750 },
      { name: 'l', type: '2', linkname: 'x' },
      { name: 'l/', type: '5' },
    ]);
    assert.equal((await storedContent(store, at.get('x')!)).toString(), 'second');
    assert.equal(at.get('d')?.mode, S_IFDIR | 0o755);
    assert.ok(at.has('d/y'));
    assert.equal(at.get('l')?.mode, S_IFDIR | 0o755);
  });

  it('publishes a hard link to a symlink as a second symlink', async () => {
    const { at } = await stage([
      { name: 's', type: '2', linkname: 'target' },
      { name: 'h', type: '1', linkname: 's' },
    ]);
    assert.equal(at.get('h')?.symlink, 'target');
    assert.equal(at.get('h')!.mode & S_IFMT, S_IFLNK);
  });

  it('stores a member over the chunking threshold in chunks, streamed', async () => {
    const data = randomBytes(1 << 20);
    const { store, writer } = memoryWriter({ min: 64 << 10, avg: 128 << 10, max: 256 << 10 });
    const body = chunked(gzip(buildTar([{ name: 'blob', content: data }])));
    const staged = await stageTarball(body, { writer, algorithm: 'sha1' });
    const blob = byPath(staged).get('blob')!;
    assert.equal(blob.hash, null);
    assert.ok(blob.chunks.length > 2);
    assert.ok((await storedContent(store, blob)).equals(data));
  });

  it('accepts a small tarball whose ratio is over the limit (less than 1 MiB of output)', async () => {
    const { staged } = await stage([{ name: 'zeros', content: Buffer.alloc(900 * 1024) }]);
    assert.ok(staged.bytes / staged.compressedBytes > 100);
    assert.equal(staged.bytes, 900 * 1024);
  });

  it('refuses limits that are not positive numbers', async () => {
    const { writer } = memoryWriter();
    await rejectsWith(
      stageTarball(chunked(Buffer.alloc(0)), { writer, algorithm: 'sha1', limits: { maxEntries: 0 } }),
      'INVALID_ARGUMENT',
      /maxEntries/,
    );
  });
});

describe('apply staged tarballs to a repository', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  let served = '';
  let pub = '';
  let publisher: Publisher;
  let tarball: Buffer;

  before(async () => {
    await makeSource(src);
    tarball = gnuTar(['-C', src, '-czf', '-', '.'], tmp.dir);
    const init = await initRepository(data, FQRN);
    served = init.paths.served;
    pub = path.join(init.paths.keys, `${FQRN}.pub`);
    publisher = await Publisher.open(data, FQRN);
  });
  after(async () => {
    await publisher.close();
    tmp.cleanup();
  });

  /** Stages `bytes` and applies it at /user/<group>/<sha256> in one revision. */
  async function publish(group: string, ...uploads: Buffer[]) {
    const algorithm = publisher.config.hashAlgorithm;
    const roots: string[] = [];
    const result = await publisher.applyChanges(async (tree, writer) => {
      const staged = await Promise.all(uploads.map((u) => stageTarball(chunked(u), { writer, algorithm })));
      for (const s of staged) {
        const root = `/user/${group}/${s.sha256}`;
        await applyStagedTarball(tree, root, s, algorithm);
        roots.push(root);
      }
    });
    return { result, roots };
  }

  it('publishes an upload as its own nested catalog, readable back, pulled identical, conformant', async () => {
    const { result, roots } = await publish('fermilab', tarball);
    assert.equal(result.published, true);
    const root = roots[0]!;
    assert.equal(path.posix.basename(root), createHash('sha256').update(tarball).digest('hex'));
    assert.equal((await publisher.readFile(`${root}/bin/run.sh`))?.toString(), RUN);
    assert.ok((await publisher.readFile(`${root}/data/big.bin`))?.equals(BIG));
    const tree = publisher.newTree();
    assert.equal((await tree.owner(`${root}/bin/run.sh`)).mountpoint, root);
    assert.equal((await tree.get('/user'))?.uid, 0);
    assertConformant(served, pub);

    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const out = path.join(tmp.dir, 'pulled');
    try {
      await pull(reader, out, { path: root, owners: false });
    } finally {
      await reader.close();
    }
    const opts = { withMtime: true };
    const [want, got] = await Promise.all([snapshotTree(src, opts), snapshotTree(out, opts)]);
    const diff = diffTrees(want, got, {
      labels: ['source', 'published'],
      skip: (p) => p === '.cvmfscatalog',
      ignore: ['hardlinks', 'mtimeNs', 'symlinkMtime'],
    });
    assert.deepEqual(diff, []);
  });

  it('replaces what was at the root when applied again', async () => {
    const first = gzip(buildTar([{ name: 'old', content: 'old' }]));
    const { roots } = await publish('replace', first);
    const root = roots[0]!;
    const second = await stageTarball(chunked(gzip(buildTar([{ name: 'new', content: 'new' }]))), {
      writer: publisher.newWriter(),
      algorithm: publisher.config.hashAlgorithm,
    });
    await publisher.applyChanges((tree) =>
      applyStagedTarball(tree, root, second, publisher.config.hashAlgorithm),
    );
    const names = (await publisher.newTree().list(root)).map((d) => d.name);
    assert.deepEqual(names, ['.cvmfscatalog', 'new']);
    assertConformant(served, pub);
  });

  it('publishes many uploads in one revision, each its own catalog', async () => {
    const uploads = [1, 2, 3].map((i) => gzip(buildTar([{ name: `job${i}.sh`, content: `echo ${i}\n` }])));
    const before = publisher.manifest.revision;
    const { result, roots } = await publish('batch', ...uploads);
    assert.equal(result.revision, before + 1);
    const tree = publisher.newTree();
    for (const [i, root] of roots.entries()) {
      assert.equal((await tree.owner(`${root}/job${i + 1}.sh`)).mountpoint, root);
      assert.equal((await publisher.readFile(`${root}/job${i + 1}.sh`))?.toString(), `echo ${i + 1}\n`);
    }
    assertConformant(served, pub);
  });

  it('leaves the revision and content unchanged when an upload of the batch is refused', async () => {
    const before = publisher.manifest;
    const good = gzip(buildTar([{ name: 'fine', content: 'fine' }]));
    const evil = gzip(
      buildTar([
        { name: 'lib', type: '2', linkname: '/etc' },
        { name: 'lib/passwd', content: 'x' },
      ]),
    );
    await rejectsWith(publish('refused', good, evil), 'TAR_SYMLINK_PARENT');
    assert.equal(publisher.manifest.revision, before.revision);
    assert.equal(publisher.manifest.rootHash, before.rootHash);
    assert.equal(await publisher.newTree().get('/user/refused'), undefined);
  });

  it('refuses to apply an upload staged with another hash algorithm', async () => {
    const { writer } = memoryWriter();
    const staged = await stageTarball(chunked(gzip(buildTar([{ name: 'x' }]))), {
      writer,
      algorithm: 'sha1',
    });
    const other = publisher.config.hashAlgorithm === 'sha1' ? 'rmd160' : 'sha1';
    await rejectsWith(
      publisher.applyChanges((tree) => applyStagedTarball(tree, '/user/x/y', staged, other)),
      'INVALID_ARGUMENT',
      /staged with/,
    );
  });
});
