import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Publisher } from '../publish/index.js';
import { BARGE_BIN } from '../testing/run-barge.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { parseUploadId } from '../usercode/upload-id.js';
import { UploadService } from '../usercode/upload-service.js';
import type { GcReport } from './gc.js';
import {
  assertKeptWhole,
  assertNoGarbage,
  checkConformanceLater,
  gcCommandInProcess,
  historyTags,
  initTestRepo,
  keptRoots,
  manifestFields,
  runGc,
  storedObjects,
  type TestRepo,
  testRepo,
} from './gc-test-support.js';

const FQRN = 'gccrash.example.org';
const DAY = 86400;
const RETAIN = ['--keep-revisions', '1', '--keep-days', '0'];
/** Garbage objects the base repository leaves: more than one deletion batch of 1,000. */
const BULK_FILES = 1250;

async function* body(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

async function publishTree(repo: TestRepo, dir: string, at: string, files: Map<string, Buffer | string>) {
  rmSync(dir, { recursive: true, force: true });
  for (const [p, content] of files) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), content);
  }
  const publisher = await Publisher.open(repo.data, repo.fqrn);
  try {
    return await publisher.publishDirectory(dir, at);
  } finally {
    await publisher.close();
  }
}

/**
 * A repository whose gc has something to do at every step: an idle upload to expire (the retention
 * revision), a pinned one and a fresh one to keep, a tag to keep, and a dropped revision holding
 * 1,250 small files in three catalogs, more than one deletion batch.
 */
async function buildBase(tmp: string): Promise<TestRepo> {
  const data = path.join(tmp, 'base');
  const repo = initTestRepo(data, FQRN, { uploads: true });
  let clock = 0;
  const service = await UploadService.open({ dataDir: data, now: () => clock, gatherMs: 5 });
  try {
    for (const [label, age, pin] of [
      ['idle', 60, false],
      ['pinned', 60, true],
      ['fresh', 1, false],
    ] as const) {
      const r = new SeededRandom('crash', label);
      const tar = buildTar([
        { name: 'run.sh', mode: 0o755, content: `#!/bin/sh\necho ${label}\n` },
        { name: 'lib.so', mode: 0o644, content: r.bytes(70_000) },
      ]);
      const id = parseUploadId(`nova/${createHash('sha256').update(tar).digest('hex')}`);
      clock = Math.floor(Date.now() / 1000) - age * DAY;
      await service.publish(id, body(tar), 'test');
      if (pin) service.setPinned(id, true);
    }
  } finally {
    await service.close();
  }
  const src = path.join(tmp, 'src');
  const bulk = new Map<string, Buffer | string>();
  const r = new SeededRandom('crash', 'bulk');
  for (let i = 0; i < BULK_FILES; i++) bulk.set(`d${i % 3}/f${i}`, r.bytes(20 + (i % 50)));
  bulk.set('d2/.cvmfscatalog', '');
  bulk.set('d1/.cvmfscatalog', '');
  await publishTree(repo, src, '/sw/tagged', new Map([['release.txt', 'release 1\n']]));
  const tagger = await Publisher.open(data, FQRN, 'tag');
  await tagger.tag('release-1');
  await tagger.close();
  await publishTree(repo, src, '/sw/tagged', new Map([['release.txt', 'release 2\n']]));
  await publishTree(repo, src, '/sw/bulk', bulk);
  await publishTree(repo, src, '/sw/bulk', new Map([['d0/small', 'small\n']]));
  await publishTree(repo, src, '/sw/bulk', new Map([['d0/small', 'smaller\n']]));
  return repo;
}

/**
 * Copies a data directory (each kill point starts from the same repository): served files as hard
 * links (gc unlinks them, and every write is a new file renamed into place), state as copies
 * (SQLite writes in place).
 */
function copyRepo(from: TestRepo, data: string): TestRepo {
  mkdirSync(data);
  execFileSync('cp', ['-al', path.join(from.data, 'repos'), path.join(data, 'repos')]);
  execFileSync('cp', ['-a', path.join(from.data, 'state'), path.join(from.data, 'keys'), data]);
  return testRepo(data, from.fqrn);
}

/** runBarge without blocking the event loop (kill points run two at a time). */
function runBargeAsync(args: string[], env: Record<string, string>) {
  return new Promise<{ signal: string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BARGE_BIN, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 180_000 },
      (err, stdout, stderr) => resolve({ signal: err?.signal ?? null, stdout, stderr }),
    );
  });
}

/** The revisions a report keeps below `retention`, the retention revision (its root differs per run). */
const keptBefore = (r: GcReport, retention = r.retentionRevision) =>
  r.kept.filter((k) => retention === undefined || k.revision < retention);

/** Times the failpoint `gc-delete` fires in a run that deletes `n` files in batches of 1,000. */
function deleteHits(n: number): { deletes: number; batches: number } {
  let deletes = 0;
  let batches = 0;
  for (let left = n; left > 0; left -= 1000) {
    batches++;
    deletes += Math.ceil(Math.min(left, 1000) / 100);
  }
  return { deletes, batches };
}

describe('gc crash safety: kill -9 of gc at every step', () => {
  const tmp = tempDir();
  let base: TestRepo;
  let reference: GcReport;
  const points: string[] = [];

  before(async () => {
    base = await buildBase(tmp.dir);
    const ref = copyRepo(base, path.join(tmp.dir, 'reference'));
    reference = runGc(ref, RETAIN);
    assert.equal(reference.uploadsExpired.length, 1, 'the reference run expires one upload');
    assert.ok(
      reference.objectsDeleted > BULK_FILES,
      `the reference run deletes the bulk: ${reference.objectsDeleted}`,
    );
    assertNoGarbage(ref, keptRoots(reference), 'reference');
    rmSync(ref.data, { recursive: true, force: true });
  });
  after(tmp.cleanup);

  it('has at least 20 kill points', () => {
    const { deletes, batches } = deleteHits(reference.objectsDeleted + reference.catalogsDeleted);
    // In order: the retention revision (catalogs, history, ledger, manifest), the end of
    // retention, the history without trunk-previous, the decision, the pruned reflog, deletions.
    points.push(
      'catalog:1',
      'history:1',
      'ledger:1',
      'manifest:1',
      'manifest-swapped:1',
      'gc-retention:1',
      'history:2',
      'manifest:2',
      'manifest-swapped:2',
      'gc-planned:1',
      'manifest:3',
      'manifest-swapped:3',
      'gc-reflog:1',
    );
    for (let i = 1; i <= deletes; i++) points.push(`gc-delete:${i}`);
    for (let i = 1; i <= batches; i++) points.push(`gc-batch:${i}`);
    assert.ok(points.length >= 20, `${points.length} kill points: ${points}`);
  });

  /** One kill point: kill, check, gc again, check. */
  async function killAt(point: string): Promise<void> {
    const repo = copyRepo(base, path.join(tmp.dir, point.replace(':', '-')));
    try {
      const r = await runBargeAsync(['gc', FQRN, '--data', repo.data, ...RETAIN], { BARGE_FAILPOINT: point });
      assert.equal(r.signal, 'SIGKILL', `expected a kill at ${point}: ${r.stdout}${r.stderr}`);
      const head = manifestFields(repo.served);
      const tags = historyTags(repo.served, head.get('H') as string);
      const mustBeWhole = [
        ...keptRoots({ ...reference, kept: keptBefore(reference) }),
        head.get('C') as string,
        ...tags.values(),
      ];
      await assertKeptWhole(repo, mustBeWhole, `after the kill at ${point}`);
      // Killed between a manifest and its reflog, the served reflog is stale until the next writer
      // opens the repository and puts the pending one in place (as after a publish killed there):
      // checked after the next gc instead.
      const swapped = point.startsWith('manifest-swapped');
      const conformant = swapped
        ? undefined
        : checkConformanceLater(repo, path.join(tmp.dir, `${point.replace(':', '-')}-served`), point);
      const next = await gcCommandInProcess(repo, RETAIN);
      // Killed right after the retention revision went out and before gc noted it as such, the
      // next gc sees an ordinary revision: its trunk-previous (the revision before expiry) stays
      // until the next revision, and the expired content with it.
      const lingering = point === 'manifest-swapped:1';
      assert.deepEqual(
        keptBefore(next, reference.retentionRevision)
          .filter((k) => !(lingering && k.why.join() === 'tag trunk-previous'))
          .map((k) => k.revision),
        keptBefore(reference).map((k) => k.revision),
        'the next gc keeps what an uninterrupted one keeps',
      );
      await assertKeptWhole(repo, keptRoots(next), `the gc after the kill at ${point}`);
      await (conformant ?? checkConformanceLater(repo, path.join(tmp.dir, `${point}-next`), point));
      const left = assertNoGarbage(repo, keptRoots(next), `the gc after the kill at ${point}`);
      assert.ok(left < storedObjects(base.served).size - BULK_FILES);
    } finally {
      rmSync(repo.data, { recursive: true, force: true });
    }
  }

  it('after each kill, every kept revision is whole, the repository conformant, and the next gc finishes', async (t) => {
    // BARGE_GC_POINTS=gc-planned:1,gc-delete:3 runs only those. Two points at a time: each is
    // mostly a child process and the checker.
    const only = process.env.BARGE_GC_POINTS?.split(',');
    const queue = points.filter((p) => !only || only.includes(p));
    const worker = async () => {
      for (let point = queue.shift(); point; point = queue.shift()) {
        const p = point;
        // Killed in the retention revision before the ledger records it (catalog:1, history:1),
        // the catalogs and history it wrote are staged under its session: the next gc collects them.
        await t.test(`killed at ${p}`, () => killAt(p));
      }
    };
    await Promise.all([worker(), worker()]);
  });
});
