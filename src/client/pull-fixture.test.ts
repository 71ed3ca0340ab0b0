import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { objectPath } from '../object/index.js';
import { getXattr } from '../posix/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { startServer } from '../server/index.js';
import {
  FIXTURE_DIR,
  FIXTURE_FQRN,
  FIXTURE_PUB,
  FIXTURE_SERVED,
  fixtureManifest,
} from '../testing/fixture.js';
import { tempDir } from '../testing/temp-dir.js';
import { pull } from './index.js';

interface ListingEntry {
  path: string;
  mode: string;
  nlink: number;
  type: string;
  size?: number;
  sha256?: string;
  target?: string;
  mtime?: number;
}

/** What a mounted client shows, read back from a pulled tree with lstat (not barge's reader). */
function listTree(root: string): ListingEntry[] {
  const out: ListingEntry[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = `${rel}/${name}`;
      const abs = path.join(root, p);
      const st = lstatSync(abs);
      const e: ListingEntry = {
        path: p,
        mode: `0o${(st.mode & 0o7777).toString(8)}`,
        nlink: st.nlink,
        type: '',
      };
      if (st.isDirectory()) e.type = 'directory';
      else if (st.isSymbolicLink()) Object.assign(e, { type: 'symlink', target: readlinkSync(abs) });
      else if (st.isFIFO()) e.type = 'fifo';
      else if (st.isFile()) {
        const sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
        Object.assign(e, { type: 'file', size: st.size, sha256, mtime: Math.floor(st.mtimeMs / 1000) });
      }
      out.push(e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

describe('pull of the cvmfs_server reference repository', () => {
  const tmp = tempDir();
  after(tmp.cleanup);
  const key = readFileSync(FIXTURE_PUB, 'utf8');

  it('reproduces what a mounted 2.11.5 client lists: types, modes, sizes, sha256, targets, mtimes, the xattr', async () => {
    const source = await openSource(FIXTURE_SERVED);
    const reader = await RepositoryReader.open(source, { publicKeysPem: [key], fqrn: FIXTURE_FQRN });
    const dest = path.join(tmp.dir, 'whole');
    await pull(reader, dest);
    await reader.close();
    const expected = (
      JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'head-listing.json'), 'utf8')) as {
        entries: ListingEntry[];
      }
    ).entries;
    const actual = listTree(dest);
    // nlink of directories depends on the local file system only for '.'-entries; CVMFS reports 2 + subdirs, so does ext4.
    assert.deepEqual(actual.sort(byPath), [...expected].sort(byPath));
    assert.equal(getXattr(path.join(dest, 'etc/hello.txt'), 'user.fixture').toString(), 'attribute-value');
  });

  it('pulls a subtree across the nested catalog boundary', async () => {
    const source = await openSource(FIXTURE_SERVED);
    const reader = await RepositoryReader.open(source, { publicKeysPem: [key] });
    const dest = path.join(tmp.dir, 'sub');
    await pull(reader, dest, { path: '/sub' });
    await reader.close();
    assert.deepEqual(
      listTree(dest).map((e) => e.path),
      ['/nested', '/nested/.cvmfscatalog', '/nested/deeper', '/nested/deeper/deep.txt', '/nested/inside.txt'],
    );
  });

  it('pulls over real HTTP from barge serve', async () => {
    const data = path.join(tmp.dir, 'http-data');
    cpSync(FIXTURE_SERVED, path.join(data, 'repos', FIXTURE_FQRN), { recursive: true });
    const server = await startServer({ dataDir: data, listen: '127.0.0.1:0' });
    try {
      const source = await openSource(`${server.url}/cvmfs/${FIXTURE_FQRN}`);
      const reader = await RepositoryReader.open(source, { publicKeysPem: [key], fqrn: FIXTURE_FQRN });
      const dest = path.join(tmp.dir, 'over-http');
      await pull(reader, dest);
      await reader.close();
      source.close();
      assert.equal(listTree(dest).length, 226);
    } finally {
      await server.close();
    }
  });

  describe('refuses a tampered repository', () => {
    let n = 0;
    const tampered = (mutate: (dir: string) => void): string => {
      const dir = path.join(tmp.dir, `tampered-${n++}`);
      cpSync(FIXTURE_SERVED, dir, { recursive: true });
      mutate(dir);
      return dir;
    };
    const open = async (dir: string) =>
      RepositoryReader.open(await openSource(dir), { publicKeysPem: [key], fqrn: FIXTURE_FQRN });

    it('a manifest whose body was changed after signing', async () => {
      const dir = tampered((d) => {
        const f = path.join(d, '.cvmfspublished');
        writeFileSync(f, readFileSync(f, 'latin1').replace('D240', 'D241'), 'latin1');
      });
      await assert.rejects(open(dir), { code: 'SIGNATURE_INVALID' });
    });

    it('a manifest with a flipped signature byte', async () => {
      const dir = tampered((d) => {
        const f = path.join(d, '.cvmfspublished');
        const b = readFileSync(f);
        b[b.length - 10] = (b[b.length - 10] as number) ^ 0xff;
        writeFileSync(f, b);
      });
      await assert.rejects(open(dir), { code: 'SIGNATURE_INVALID' });
    });

    it('a whitelist with a changed expiry', async () => {
      const dir = tampered((d) => {
        const f = path.join(d, '.cvmfswhitelist');
        writeFileSync(
          f,
          readFileSync(f, 'latin1').replace(/\nE(\d{4})/, (_m, y) => `\nE${Number(y) + 1}`),
          'latin1',
        );
      });
      await assert.rejects(open(dir), { code: 'SIGNATURE_INVALID' });
    });

    it('a whitelist signed by another master key', async () => {
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
        type: 'spki',
        format: 'pem',
      });
      await assert.rejects(
        RepositoryReader.open(await openSource(FIXTURE_SERVED), { publicKeysPem: [stranger as string] }),
        {
          code: 'SIGNATURE_INVALID',
        },
      );
    });

    it('an expired whitelist', async () => {
      await assert.rejects(
        RepositoryReader.open(await openSource(FIXTURE_SERVED), {
          publicKeysPem: [key],
          now: new Date('2037-01-01T00:00:00Z'),
        }),
        { code: 'WHITELIST_EXPIRED' },
      );
    });

    it('a file object whose bytes changed', async () => {
      const dir = tampered(() => {});
      const reader = await open(dir);
      const hello = await reader.lookup('/etc/hello.txt');
      assert.ok(hello?.hash);
      const f = path.join(dir, objectPath(hello.hash, ''));
      const b = readFileSync(f);
      b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
      writeFileSync(f, b);
      await assert.rejects(pull(reader, path.join(tmp.dir, 'corrupt-pull')), { code: 'OBJECT_CORRUPT' });
      await reader.close();
    });

    it('a root catalog whose bytes changed', async () => {
      const m = fixtureManifest();
      const dir = tampered((d) => {
        const f = path.join(d, objectPath(m.get('C') as string, 'C'));
        const b = readFileSync(f);
        b[100] = (b[100] as number) ^ 1;
        writeFileSync(f, b);
      });
      const reader = await open(dir);
      await assert.rejects(reader.lookup('/etc'), { code: 'OBJECT_CORRUPT' });
    });
  });
});
