import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setXattr } from '../posix/index.js';
import { fsck, openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { initRepository, Publisher } from './index.js';

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/**
 * Every kind of bad input ends in a clear error with a stable code, and never in a half-written
 * revision: the last good revision stays served, fsck passes, and the next good publish works.
 */
describe('bad input: clear errors, last good revision untouched', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const fqrn = 'bad.example.org';
  const served = path.join(data, 'repos', fqrn);
  const pub = path.join(data, 'keys', `${fqrn}.pub`);
  const good = path.join(tmp.dir, 'good');

  const manifest = () => readFileSync(path.join(served, '.cvmfspublished'));

  async function assertUntouched(before: Buffer, dir = served, key = pub): Promise<void> {
    assert.deepEqual(readFileSync(path.join(dir, '.cvmfspublished')), before, 'manifest unchanged');
    const reader = await RepositoryReader.open(await openSource(dir), {
      publicKeysPem: [readFileSync(key, 'utf8')],
    });
    const report = await fsck(reader);
    await reader.close();
    assert.deepEqual(report.problems, []);
    assertConformant(dir, key);
  }

  /** A source tree with one problem made by `spoil`. */
  async function source(name: string, spoil: (dir: string) => Promise<void> | void): Promise<string> {
    const dir = path.join(tmp.dir, name);
    await fsp.cp(good, dir, { recursive: true });
    await spoil(dir);
    return dir;
  }

  before(async () => {
    await fsp.mkdir(path.join(good, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(good, 'a.txt'), 'a');
    await fsp.writeFile(path.join(good, 'sub', 'b.bin'), randomBytes(100_000));
    await initRepository(data, fqrn);
    const r = runBarge(['publish', fqrn, good, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(tmp.cleanup);

  it('a missing source directory is SOURCE_NOT_FOUND', async () => {
    const before = manifest();
    const r = runBarge(['publish', fqrn, path.join(tmp.dir, 'nope'), '--data', data]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SOURCE_NOT_FOUND: source directory .*nope does not exist/);
    assert.match(r.stderr, /hint: /);
    await assertUntouched(before);
  });

  it('a source that is a file is SOURCE_NOT_FOUND', async () => {
    const before = manifest();
    const r = runBarge(['publish', fqrn, path.join(good, 'a.txt'), '--data', data]);
    assert.match(r.stderr, /SOURCE_NOT_FOUND: .* is not a directory/);
    await assertUntouched(before);
  });

  it('an unreadable file is SOURCE_UNREADABLE naming the file', async () => {
    const before = manifest();
    const dir = await source('unreadable', (d) => {
      writeFileSync(path.join(d, 'secret'), 'no');
      chmodSync(path.join(d, 'secret'), 0o000);
    });
    let r: ReturnType<typeof runBarge>;
    if (asRoot) {
      // Root reads anything: run the publisher as nobody, on a repository nobody owns.
      const ndata = path.join(tmp.dir, 'nobody-data');
      await initRepository(ndata, 'nobody.example.org');
      execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, ndata, dir]);
      chownSync(path.join(dir, 'secret'), 0, 0);
      execFileSync('chmod', ['-R', 'a+rX', tmp.dir]);
      chmodSync(path.join(dir, 'secret'), 0o000);
      const nserved = path.join(ndata, 'repos', 'nobody.example.org');
      const nbefore = readFileSync(path.join(nserved, '.cvmfspublished'));
      r = runBarge(['publish', 'nobody.example.org', dir, '--data', ndata], {}, { uid: NOBODY, gid: NOBODY });
      await assertUntouched(nbefore, nserved, path.join(ndata, 'keys', 'nobody.example.org.pub'));
    } else {
      r = runBarge(['publish', fqrn, dir, '--data', data]);
    }
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /SOURCE_UNREADABLE: cannot read .*secret: permission denied/);
    await assertUntouched(before);
  });

  it('an unreadable directory is SOURCE_UNREADABLE naming the directory', async (t) => {
    if (!asRoot) {
      t.skip('needs root to run the publisher as another user');
      return;
    }
    const ndata = path.join(tmp.dir, 'nobody-dir-data');
    await initRepository(ndata, 'lockeddir.example.org');
    const dir = await source('locked-dir', async (d) => {
      await fsp.mkdir(path.join(d, 'locked'));
      await fsp.writeFile(path.join(d, 'locked', 'f'), 'x');
    });
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, ndata, dir]);
    execFileSync('chmod', ['-R', 'a+rX', tmp.dir]);
    chownSync(path.join(dir, 'locked'), 0, 0);
    chmodSync(path.join(dir, 'locked'), 0o000);
    const r = runBarge(
      ['publish', 'lockeddir.example.org', dir, '--data', ndata],
      {},
      { uid: NOBODY, gid: NOBODY },
    );
    chmodSync(path.join(dir, 'locked'), 0o755);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /SOURCE_UNREADABLE: cannot read .*locked-dir\/locked: permission denied/);
  });

  it('a file that vanishes during the publish is SOURCE_CHANGED', async () => {
    const before = manifest();
    const dir = await source('vanish', (d) => writeFileSync(path.join(d, 'gone.txt'), 'soon gone'));
    const p = await Publisher.open(data, fqrn);
    try {
      await assert.rejects(
        p.publishDirectory(dir, '', async (e) => {
          if (e.phase === 'scanned') await fsp.rm(path.join(dir, 'gone.txt'));
        }),
        { code: 'SOURCE_CHANGED', message: /gone\.txt: it vanished during publish/ },
      );
    } finally {
      await p.close();
    }
    await assertUntouched(before);
  });

  it('a file that changes during the publish is SOURCE_CHANGED', async () => {
    const before = manifest();
    const dir = await source('change', (d) => writeFileSync(path.join(d, 'moving.txt'), 'first'));
    const p = await Publisher.open(data, fqrn);
    try {
      await assert.rejects(
        p.publishDirectory(dir, '', async (e) => {
          if (e.phase === 'scanned') await fsp.appendFile(path.join(dir, 'moving.txt'), ' and more');
        }),
        { code: 'SOURCE_CHANGED', message: /moving\.txt: it changed between scanning and reading/ },
      );
    } finally {
      await p.close();
    }
    await assertUntouched(before);
  });

  for (const name of ['nodot', 'Upper.Case', 'a..b', '-lead.example.org', 'sp ace.org', '../../etc.org']) {
    it(`an invalid repository name '${name}' is INVALID_FQRN`, () => {
      const r = runBarge(['init', '--data', data, '--', name]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /INVALID_FQRN: .* is not a valid repository name/);
      assert.match(runBarge(['publish', '--data', data, '--', name, good]).stderr, /INVALID_FQRN/);
    });
  }

  it('an unknown repository is REPO_NOT_FOUND', () => {
    assert.match(
      runBarge(['publish', 'missing.example.org', good, '--data', data]).stderr,
      /REPO_NOT_FOUND: repository missing\.example\.org does not exist[\s\S]*hint: create it with 'barge init/,
    );
  });

  for (const at of ['relative/path', '/a/../b', '/a//b']) {
    it(`an invalid --at '${at}' is INVALID_PATH`, async () => {
      const before = manifest();
      assert.match(runBarge(['publish', fqrn, good, '--at', at, '--data', data]).stderr, /INVALID_PATH/);
      await assertUntouched(before);
    });
  }

  it('a repository locked by another publish is REPO_LOCKED; a dead holder is taken over', async () => {
    const before = manifest();
    const holder = await Publisher.open(data, fqrn);
    try {
      const r = runBarge(['publish', fqrn, good, '--data', data]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`REPO_LOCKED: repository is locked by barge publish \\(pid ${process.pid}`),
      );
    } finally {
      await holder.close();
    }
    await assertUntouched(before);
    // A lock file whose process is gone (kill -9) does not block the next writer.
    writeFileSync(
      path.join(data, 'state', fqrn, 'lock'),
      JSON.stringify({
        pid: 999_999_999,
        host: (await import('node:os')).hostname(),
        since: 'then',
        what: 'dead',
      }),
    );
    const r = runBarge(['publish', fqrn, good, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('an xattr value CVMFS cannot store is UNSUPPORTED_ENTRY before anything is written', async (t) => {
    const before = manifest();
    const dir = await source('long-xattr', () => {});
    try {
      setXattr(path.join(dir, 'a.txt'), 'user.long', Buffer.alloc(300, 1));
    } catch {
      t.skip('this file system has no user xattrs');
      return;
    }
    const r = runBarge(['publish', fqrn, dir, '--data', data]);
    assert.match(r.stderr, /UNSUPPORTED_ENTRY: .*a\.txt: xattr 'user\.long' has 300 bytes/);
    await assertUntouched(before);
  });

  it('a full disk is DISK_FULL, and the next publish after freeing space succeeds', async (t) => {
    if (!asRoot) {
      t.skip('mounting a small tmpfs needs root');
      return;
    }
    const mnt = path.join(tmp.dir, 'small-disk');
    await fsp.mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    try {
      const sdata = path.join(mnt, 'data');
      await initRepository(sdata, 'full.example.org');
      const sserved = path.join(sdata, 'repos', 'full.example.org');
      const skey = path.join(sdata, 'keys', 'full.example.org.pub');
      const sbefore = readFileSync(path.join(sserved, '.cvmfspublished'));
      const dir = await source('too-big', (d) =>
        writeFileSync(path.join(d, 'big.bin'), randomBytes(4 << 20)),
      );
      const r = runBarge(['publish', 'full.example.org', dir, '--data', sdata]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /DISK_FULL: no space left on the device/);
      await assertUntouched(sbefore, sserved, skey);
      await fsp.rm(path.join(dir, 'big.bin'));
      const again = runBarge(['publish', 'full.example.org', dir, '--data', sdata]);
      assert.equal(again.status, 0, again.stderr);
      assertConformant(sserved, skey);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
