import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { objectPath } from '../object/index.js';
import { assertConformant } from '../testing/conformance.js';
import { diffTrees, snapshotTree } from '../testing/index.js';
import { BARGE_BIN, runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';

const FQRN = 'cli.example.org';

describe('barge CLI end to end', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  const env = { BARGE_DATA: data };

  before(async () => {
    await fsp.mkdir(path.join(src, 'sw', 'v1'), { recursive: true });
    await fsp.writeFile(path.join(src, 'sw', 'v1', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await fsp.writeFile(path.join(src, 'sw', 'v1', '.cvmfscatalog'), '');
    await fsp.symlink('v1', path.join(src, 'sw', 'latest'));
  });
  after(tmp.cleanup);

  it('prints help and refuses unknown commands with exit 2', () => {
    assert.equal(runBarge([]).status, 2);
    const r = runBarge(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    assert.match(runBarge(['--help']).stdout, /publish/);
    assert.match(runBarge(['publish']).stderr, /INVALID_ARGUMENT[\s\S]*usage: barge publish/);
  });

  it('init, publish, tag, tags and info take the data directory from $BARGE_DATA', () => {
    assert.equal(runBarge(['init', FQRN], env).status, 0);
    const p = runBarge(['publish', FQRN, src, '--json'], env);
    assert.equal(p.status, 0, p.stderr);
    const result = JSON.parse(p.stdout) as { published: boolean; revision: number };
    assert.deepEqual([result.published, result.revision], [true, 2]);
    assert.equal(runBarge(['tag', FQRN, 'v1', '-m', 'first release'], env).status, 0);
    assert.match(runBarge(['tag', FQRN, 'v1'], env).stderr, /TAG_EXISTS/);
    const tags = JSON.parse(runBarge(['tags', FQRN, '--json'], env).stdout) as {
      name: string;
      description: string;
    }[];
    assert.deepEqual(tags.map((t) => t.name).sort(), ['trunk', 'trunk-previous', 'v1']);
    const info = JSON.parse(runBarge(['info', FQRN, '--json'], env).stdout) as {
      revision: number;
      catalogs: { mountpoint: string }[];
      counters: { regular: number; symlink: number };
    };
    assert.equal(info.revision, 2);
    assert.deepEqual(info.catalogs.map((c) => c.mountpoint).sort(), ['/', '/sw/v1']);
    assert.deepEqual([info.counters.regular, info.counters.symlink], [2, 1]);
    assert.equal(runBarge(['tag', FQRN, 'v1', '--remove'], env).status, 0);
    assert.match(runBarge(['tag', FQRN, 'nope', '--remove'], env).stderr, /TAG_NOT_FOUND/);
  });

  it('serves what it wrote so that the conformance checker accepts it over HTTP, and pulls it back by URL', async () => {
    const server = spawn(process.execPath, [BARGE_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', data], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => {
          const m = /at (http:\/\/[^ ]+)\/cvmfs\//.exec(chunk.toString());
          if (m?.[1]) resolve(m[1]);
        });
        server.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const base = `${url}/cvmfs/${FQRN}`;
      assertConformant(base, pub);
      const out = path.join(tmp.dir, 'pulled');
      const r = runBarge(['pull', base, out, '--key', pub]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(
        diffTrees(await snapshotTree(src), await snapshotTree(out), { ignore: ['directoryMtime'] }),
        [],
      );
      const sub = runBarge(['pull', base, path.join(tmp.dir, 'sub'), '--path', '/sw/v1', '--key', pub]);
      assert.equal(sub.status, 0, sub.stderr);
      assert.equal(readFileSync(path.join(tmp.dir, 'sub', 'run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
      assert.match(runBarge(['pull', base, path.join(tmp.dir, 'x')]).stderr, /KEY_NOT_FOUND/);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('fsck passes on a whole repository and exits 3 naming a corrupt or missing object', async () => {
    const ok = runBarge(['fsck', FQRN], env);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok$/m);
    const served = path.join(data, 'repos', FQRN);
    const report = JSON.parse(runBarge(['info', FQRN, '--json'], env).stdout) as {
      catalogs: { hash: string; mountpoint: string }[];
    };
    const nested = report.catalogs.find((c) => c.mountpoint === '/sw/v1')?.hash as string;
    const file = path.join(served, objectPath(nested, 'C'));
    const saved = readFileSync(file);
    writeFileSync(file, Buffer.concat([saved, Buffer.from('x')]));
    const bad = runBarge(['fsck', FQRN], env);
    assert.equal(bad.status, 3);
    assert.match(bad.stdout, /CORRUPT data\/.*C: .* does not match its hash/);
    await fsp.rm(file);
    assert.match(runBarge(['fsck', FQRN], env).stdout, /MISSING|unreadable/i);
    writeFileSync(file, saved);
    assert.equal(runBarge(['fsck', FQRN], env).status, 0);
  });

  it('an unchanged republish answers from the tree fingerprint; any change is still published', async () => {
    const tree = path.join(tmp.dir, 'quick');
    await fsp.mkdir(tree);
    await fsp.writeFile(path.join(tree, 'a.txt'), 'same size 1');
    // Fingerprints of entries changed within 2 s are not trusted (a later change could keep every stat field).
    await new Promise((r) => setTimeout(r, 2100));
    const first = runBarge(['publish', FQRN, tree, '--at', '/quick', '--json'], env);
    assert.equal(JSON.parse(first.stdout).published, true, first.stderr);
    const again = JSON.parse(runBarge(['publish', FQRN, tree, '--at', '/quick', '--json'], env).stdout);
    assert.deepEqual([again.published, again.directory.filesUnchanged], [false, 2]);
    // Same size, new content: the inode's mtime and ctime moved, so the fingerprint differs.
    await fsp.writeFile(path.join(tree, 'a.txt'), 'same size 2');
    const changed = JSON.parse(runBarge(['publish', FQRN, tree, '--at', '/quick', '--json'], env).stdout);
    assert.equal(changed.published, true);
    await fsp.chmod(path.join(tree, 'a.txt'), 0o600);
    assert.equal(
      JSON.parse(runBarge(['publish', FQRN, tree, '--at', '/quick', '--json'], env).stdout).published,
      true,
    );
    const pulled = path.join(tmp.dir, 'quick-pulled');
    assert.equal(runBarge(['pull', FQRN, pulled, '--path', '/quick'], env).status, 0);
    assert.equal(readFileSync(path.join(pulled, 'a.txt'), 'utf8'), 'same size 2');
  });

  it('resign renews the whitelist expiry', () => {
    const r = runBarge(['resign', FQRN, '--days', '10'], env);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(runBarge(['info', FQRN, '--json'], env).stdout) as { whitelistExpires: string };
    const days = (Date.parse(info.whitelistExpires) - Date.now()) / 86_400_000;
    assert.ok(days > 9 && days <= 10, `expires in ${days} days`);
    assertConformant(path.join(data, 'repos', FQRN), pub, { allRevisions: false });
  });
});
