import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { objectPath } from '../object/index.js';
import { IngestPool, Ledger, ObjectWriter, StagingSession } from '../publish/index.js';
import { FsObjectStore } from '../storage/index.js';
import { BARGE_BIN, runBarge } from '../testing/run-barge.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { TokenStore } from '../usercode/token-store.js';
import {
  assertNoGarbage,
  initTestRepo,
  keptRoots,
  reachableObjects,
  runGc,
  storedObjects,
  type TestRepo,
  testRepo,
} from './gc-test-support.js';

const FQRN = 'gcorphans.example.org';
const RETAIN = ['--keep-revisions', '1', '--keep-days', '0'];

/** A tree of `n` small files in four directories (one its own catalog) and one chunked file. */
function writeTree(dir: string, label: string, n: number): void {
  const r = new SeededRandom('orphans', label);
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `d${i % 4}`, `f${i}`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, r.bytes(50 + r.int(3000)));
  }
  writeFileSync(path.join(dir, 'd1', '.cvmfscatalog'), '');
  writeFileSync(path.join(dir, 'big'), r.bytes(300_000));
}

/** A copy of the base data directory (served files hard-linked: every write is a new file). */
function copyRepo(from: TestRepo, data: string): TestRepo {
  mkdirSync(data);
  execFileSync('cp', ['-al', path.join(from.data, 'repos'), path.join(data, 'repos')]);
  execFileSync('cp', ['-a', path.join(from.data, 'state'), path.join(from.data, 'keys'), data]);
  return testRepo(data, from.fqrn);
}

/** Object files the served revision does not reach. */
function unreached(repo: TestRepo): string[] {
  const { keys } = reachableObjects(repo.served, []);
  return [...storedObjects(repo.served)].filter((k) => !keys.has(k));
}

describe('gc collects what killed writers left, and spares what live writers staged', () => {
  const tmp = tempDir();
  let base: TestRepo;
  const tree = path.join(tmp.dir, 'tree');

  before(() => {
    base = initTestRepo(path.join(tmp.dir, 'base'), FQRN, { uploads: true });
    writeTree(path.join(tmp.dir, 'first'), 'first', 200);
    const r = runBarge(['publish', FQRN, path.join(tmp.dir, 'first'), '--at', '/sw/a', '--data', base.data]);
    assert.equal(r.status, 0, r.stderr);
    writeTree(tree, 'second', 400);
  });
  after(tmp.cleanup);

  // Ingest workers (object:1, object:150), the nested catalog and the root (catalog:1, catalog:2),
  // the history, then a revision the ledger recorded as pending whose manifest never went out.
  for (const point of [
    'object:1',
    'object:150',
    'catalog:1',
    'catalog:2',
    'history:1',
    'ledger:1',
    'manifest:1',
  ]) {
    it(`after a publish killed at ${point}, gc leaves exactly what the kept revisions reach`, () => {
      const repo = copyRepo(base, path.join(tmp.dir, `publish-${point.replace(':', '-')}`));
      const r = runBarge(['publish', FQRN, tree, '--at', '/sw/b', '--data', repo.data], {
        BARGE_FAILPOINT: point,
      });
      assert.equal(r.signal, 'SIGKILL', `expected a kill at ${point}: ${r.stderr}`);
      assert.ok(unreached(repo).length > 0, 'the killed publish left files behind');
      const report = runGc(repo, RETAIN);
      assertNoGarbage(repo, keptRoots(report), `gc after the kill at ${point}`);
      if (!point.startsWith('ledger') && !point.startsWith('manifest'))
        assert.ok(report.orphansDeleted > 0, `orphans reported: ${JSON.stringify(report)}`);
      rmSync(repo.data, { recursive: true, force: true });
    });
  }

  it('a ledger rebuild after a killed publish leaves no stale session, and the next gc collects its objects', () => {
    const repo = copyRepo(base, path.join(tmp.dir, 'rebuild'));
    const r = runBarge(['publish', FQRN, tree, '--at', '/sw/b', '--data', repo.data], {
      BARGE_FAILPOINT: 'object:150',
    });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const rebuilt = runBarge(['gc', FQRN, '--data', repo.data, '--rebuild-ledger']);
    assert.equal(rebuilt.status, 0, rebuilt.stderr);
    const ledger = Ledger.open(repo.state);
    try {
      assert.deepEqual(ledger.db.prepare('SELECT * FROM sessions').all(), [], 'no session is left');
    } finally {
      ledger.close();
    }
    const report = runGc(repo, RETAIN);
    assertNoGarbage(repo, keptRoots(report), 'gc after the rebuild');
    rmSync(repo.data, { recursive: true, force: true });
  });

  // The first objects of an upload are stored on the main thread, later ones on the workers.
  for (const point of ['object:3', 'object:100']) {
    it(`after a server killed at ${point} with an upload in flight, gc collects the upload's objects`, async () => {
      const repo = copyRepo(base, path.join(tmp.dir, `serve-${point.replace(':', '-')}`));
      const token = new TokenStore(repo.data).create({ group: '*', scope: 'admin' }).token;
      const server = spawn(
        process.execPath,
        [BARGE_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', repo.data],
        {
          env: { ...process.env, BARGE_FAILPOINT: point },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const exited = new Promise<string | null>((resolve) =>
        server.on('exit', (_, signal) => resolve(signal)),
      );
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = / at (http:\/\/[^/\s]+)\/cvmfs\//.exec(out);
          if (m) resolve(m[1] as string);
        });
        server.on('exit', () => reject(new Error(`barge serve exited: ${out}`)));
      });
      const r = new SeededRandom('orphans', point);
      const tarball = buildTar(
        Array.from({ length: 300 }, (_, i) => ({
          name: `f${i}`,
          mode: 0o644,
          content: r.bytes(500 + r.int(3000)),
        })),
      );
      const digest = createHash('sha256').update(tarball).digest('hex');
      await fetch(`${url}/api/v1/uploads/g/${digest}`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}` },
        body: tarball,
      }).then(
        (res) => res.text(),
        () => undefined,
      );
      assert.equal(await exited, 'SIGKILL', `expected a kill at ${point}`);
      assert.ok(unreached(repo).length > 0, 'the upload left files behind');
      const report = runGc(repo, RETAIN);
      assertNoGarbage(repo, keptRoots(report), `gc after the server was killed at ${point}`);
      assert.ok(report.orphansDeleted > 0, `orphans reported: ${JSON.stringify(report)}`);
      rmSync(repo.data, { recursive: true, force: true });
    });
  }

  it('keeps what a live writer session staged through a gc, and collects it once the session ends', async () => {
    const repo = copyRepo(base, path.join(tmp.dir, 'live'));
    const ledger = Ledger.open(repo.state);
    const staging = new StagingSession(ledger);
    const store = new FsObjectStore(repo.served);
    const pool = new IngestPool(
      repo.served,
      'sha1',
      { min: 16 << 10, avg: 32 << 10, max: 64 << 10 },
      staging,
    );
    // Like an upload staged outside the lock: on this thread (small) and on the workers (large).
    const writer = new ObjectWriter(staging.wrap(store), {
      algorithm: 'sha1',
      chunkSizes: { min: 16 << 10, avg: 32 << 10, max: 64 << 10 },
      pool: () => pool,
    });
    const r = new SeededRandom('orphans', 'live');
    const keys: string[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const c = await writer.ingestBuffer(r.bytes(i % 10 === 9 ? 100_000 : 2000 + i));
        keys.push(...(c.hash ? [objectPath(c.hash, '')] : c.chunks.map((k) => objectPath(k.hash, 'P'))));
      }
    } finally {
      await writer.close();
    }
    assert.ok(keys.length > 40, 'chunked contents were stored');
    // gc runs in another process, which sees this one alive.
    const first = runGc(repo, RETAIN);
    assert.equal(first.orphansDeleted, 0);
    for (const k of keys) assert.ok(existsSync(path.join(repo.served, k)), `${k} survived the gc`);
    staging.end();
    ledger.close();
    const second = runGc(repo, RETAIN);
    assert.equal(second.orphansDeleted, new Set(keys).size, 'the ended session`s objects are orphans');
    assertNoGarbage(repo, keptRoots(second), 'gc after the session ended');
    rmSync(repo.data, { recursive: true, force: true });
  });
});
