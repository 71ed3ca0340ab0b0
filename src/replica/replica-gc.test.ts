import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repositoryPaths } from '../repository/index.js';
import { FIXTURE_FQRN, FIXTURE_PUB, FIXTURE_SERVED } from '../testing/fixture.js';
import { tempDir } from '../testing/temp-dir.js';
import { collectReplicaGarbage, type ReplicaGcReport, replicate } from './index.js';
import {
  BargeSource,
  conformant,
  diffPulled,
  type LoggedServer,
  linkServed,
  listObjects,
  runBargeAsync,
  serveLogged,
} from './replica-test-support.js';

const FQRN = 'replicagc.example.org';
/** Files only revision A has: more than one deletion part of 100, so a kill can land midway. */
const ONLY_A_FILES = 180;

/** Writes `files` (path -> content) as the whole tree under `dir`. */
async function writeTree(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
  for (const [p, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await fsp.writeFile(path.join(dir, p), content);
  }
}

/** `barge <args> --json` as a child; the parsed report, or the test fails. */
async function bargeJson(args: string[], env: Record<string, string> = {}): Promise<ReplicaGcReport> {
  const r = await runBargeAsync([...args, '--json'], env);
  assert.equal(r.status, 0, `barge ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as ReplicaGcReport;
}

/**
 * A stratum 1 whose source drops a revision: the replica's gc deletes exactly what the source's
 * gc deleted, keeps every revision the source keeps (conformant over all revisions, fsck clean,
 * the same trees), changes nothing in a dry run, and finishes a gc killed mid-delete.
 */
describe('the gc of a replica follows its source', () => {
  const tmp = tempDir();
  const sourceData = path.join(tmp.dir, 'source');
  const replicaData = path.join(tmp.dir, 'replica');
  const tree = path.join(tmp.dir, 'tree');
  const served = repositoryPaths(replicaData, FQRN).served;
  const common = { 'common/readme.txt': 'kept by every revision\n', 'common/lib.bin': randomBytes(40_000) };
  let source: BargeSource;
  let server: LoggedServer;
  let url: string;
  /** What the source's gc deleted. */
  let sourceDeleted: string[] = [];
  const snapshot = () =>
    replicate({
      source: url,
      fqrn: FQRN,
      publicKeysPem: [source.publicKeyPem],
      dataDir: replicaData,
      parallel: 4,
    });
  const sourceGc = async () => {
    const before = await source.objectKeys();
    const r = await runBargeAsync([
      'gc',
      FQRN,
      '--data',
      sourceData,
      '--keep-revisions',
      '1',
      '--keep-days',
      '0',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const after = await source.objectKeys();
    return [...before].filter((k) => !after.has(k));
  };

  before(async () => {
    source = await BargeSource.create(sourceData, FQRN);
    // A: a nested catalog of files nobody else has; B: A's part removed; C: a changed file.
    const onlyA: Record<string, Buffer> = { 'only-a/.cvmfscatalog': Buffer.alloc(0) };
    for (let i = 0; i < ONLY_A_FILES; i++) onlyA[`only-a/f${i}`] = randomBytes(200 + i);
    await writeTree(tree, { ...common, ...onlyA, 'changed.txt': 'A\n' });
    assert.equal(await source.publish(tree), 2);
    await writeTree(tree, { ...common, 'b.txt': 'B\n', 'changed.txt': 'B\n' });
    assert.equal(await source.publish(tree), 3);
    await writeTree(tree, { ...common, 'b.txt': 'B\n', 'changed.txt': 'C\n' });
    assert.equal(await source.publish(tree), 4);
    server = await serveLogged(sourceData);
    url = `${server.url}/cvmfs/${FQRN}`;
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('deletes nothing while the source keeps every revision', async () => {
    await snapshot();
    const r = await collectReplicaGarbage({ dataDir: replicaData, fqrn: FQRN });
    assert.equal(r.catalogsDeleted + r.objectsDeleted, 0, JSON.stringify(r));
    assert.deepEqual(await listObjects(served), await source.objectKeys());
  });

  it('reports in a dry run exactly what the source deleted, and changes nothing', async () => {
    sourceDeleted = await sourceGc();
    assert.ok(sourceDeleted.length > ONLY_A_FILES, `the source's gc deleted ${sourceDeleted.length}`);
    await snapshot();
    const held = await listObjects(served);
    const r = await bargeJson(['gc', FQRN, '--data', replicaData, '--dry-run']);
    assert.equal(r.dryRun, true);
    assert.equal(r.catalogsDeleted + r.objectsDeleted, sourceDeleted.length, JSON.stringify(r));
    assert.equal(r.catalogsDeleted, sourceDeleted.filter((k) => k.endsWith('C')).length);
    const kept = new Map(r.rootsKept.map((k) => [k.revision, k.why]));
    assert.deepEqual([...kept.keys()].sort(), [3, 4], JSON.stringify(r.rootsKept));
    assert.deepEqual(await listObjects(served), held);
  });

  it('leaves the served snapshot whole when killed mid-delete', async () => {
    const held = await listObjects(served);
    const r = await runBargeAsync(['gc', FQRN, '--data', replicaData], {
      BARGE_FAILPOINT: 'replica-gc-delete',
    });
    assert.equal(r.signal, 'SIGKILL', `${r.stdout}${r.stderr}`);
    const left = await listObjects(served);
    const gone = [...held].filter((k) => !left.has(k));
    assert.ok(
      gone.length > 0 && gone.length < sourceDeleted.length,
      `${gone.length} deleted before the kill`,
    );
    assert.deepEqual(
      gone.filter((k) => !sourceDeleted.includes(k)),
      [],
      'only what the source deleted',
    );
    await conformant(served, source.pub);
  });

  it('is finished by the next gc: the replica holds what the source holds, and serves it', async () => {
    const r = await bargeJson(['gc', FQRN, '--data', replicaData]);
    assert.ok(r.resumed > 0, JSON.stringify(r));
    assert.deepEqual(await listObjects(served), await source.objectKeys());
    await conformant(served, source.pub);
    const fsck = await runBargeAsync(['fsck', FQRN, '--data', replicaData]);
    assert.equal(fsck.status, 0, `${fsck.stdout}${fsck.stderr}`);
    const options = { fqrn: FQRN, publicKeyPem: source.publicKeyPem };
    for (const tag of [undefined, 'trunk-previous']) {
      const out = path.join(tmp.dir, `pull-${tag ?? 'head'}`);
      assert.deepEqual(await diffPulled(url, served, { ...options, out, ...(tag ? { tag } : {}) }), []);
    }
    const again = await collectReplicaGarbage({ dataDir: replicaData, fqrn: FQRN });
    assert.equal(again.catalogsDeleted + again.objectsDeleted + again.resumed, 0, JSON.stringify(again));
  });

  it('runs after each snapshot with barge replicate --gc', async () => {
    await writeTree(tree, { ...common, 'changed.txt': 'D\n' });
    assert.equal(await source.publish(tree), 5);
    const deleted = await sourceGc();
    assert.ok(deleted.length > 0);
    const r = await runBargeAsync([
      'replicate',
      url,
      FQRN,
      '--key',
      source.pub,
      '--data',
      replicaData,
      '--gc',
    ]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`gc of ${FQRN}: removed \\d+ catalog\\(s\\), \\d+ object\\(s\\)`));
    assert.deepEqual(await listObjects(served), await source.objectKeys());
    await conformant(served, source.pub);
  });
});

/** cvmfs_server's repository keeps all it has (reflog, tags, history): its replica's gc deletes nothing. */
describe('the gc of a replica of the cvmfs_server reference repository', () => {
  const tmp = tempDir();
  const sourceData = path.join(tmp.dir, 'source');
  const replicaData = path.join(tmp.dir, 'replica');
  const served = repositoryPaths(replicaData, FIXTURE_FQRN).served;
  let server: LoggedServer;

  before(async () => {
    await linkServed(sourceData, FIXTURE_FQRN, FIXTURE_SERVED);
    server = await serveLogged(sourceData);
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('deletes nothing, in a dry run or not', async () => {
    await replicate({
      source: `${server.url}/cvmfs/${FIXTURE_FQRN}`,
      fqrn: FIXTURE_FQRN,
      publicKeysPem: [readFileSync(FIXTURE_PUB, 'utf8')],
      dataDir: replicaData,
    });
    for (const dryRun of [true, false]) {
      const r = await collectReplicaGarbage({ dataDir: replicaData, fqrn: FIXTURE_FQRN, dryRun });
      assert.equal(r.catalogsDeleted + r.objectsDeleted + r.bytesFreed, 0, JSON.stringify(r));
      assert.deepEqual(new Set(r.rootsKept.map((k) => k.revision)), new Set([0, 1, 2, 3]));
    }
    assert.deepEqual(await listObjects(served), await listObjects(FIXTURE_SERVED));
    await conformant(served, FIXTURE_PUB);
  });
});
