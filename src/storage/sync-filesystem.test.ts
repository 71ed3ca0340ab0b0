import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { posixAddon } from '../posix/native-addon.js';
import { syncFilesystem } from './sync-filesystem.js';

describe('syncFilesystem: syncfs(2) off the event loop', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'barge-syncfs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is the native addon call, not a fork of sync -f', () => {
    assert.equal(typeof posixAddon().syncFilesystem, 'function');
  });

  it('flushes the file system of a directory; many at once resolve independently', async () => {
    await writeFile(path.join(dir, 'f'), 'x'.repeat(100_000));
    await syncFilesystem(dir);
    await Promise.all(Array.from({ length: 8 }, () => syncFilesystem(dir)));
  });

  it('fails with IO_ERROR carrying the errno of a missing directory', async () => {
    const missing = path.join(dir, 'no', 'such');
    await assert.rejects(syncFilesystem(missing), (err: unknown) => {
      assert.ok(err instanceof BargeError);
      assert.equal(err.code, 'IO_ERROR');
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
      assert.equal((err.cause as NodeJS.ErrnoException).syscall, 'open');
      return true;
    });
  });

  it('refuses a path argument of the wrong type synchronously', () => {
    assert.throws(() => posixAddon().syncFilesystem(42 as unknown as string), TypeError);
  });
});
