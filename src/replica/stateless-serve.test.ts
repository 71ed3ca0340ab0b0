import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repositoryPaths } from '../repository/index.js';
import { BARGE_BIN } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import {
  BargeSource,
  conformant,
  type LoggedServer,
  runBargeAsync,
  serveLogged,
} from './replica-test-support.js';

const FQRN = 'stateless.example.org';

/** A `barge serve` child on a free port; resolves once it prints its URL. */
async function startServe(data: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [BARGE_BIN, 'serve', '--read-only', '--data', data, '--listen', '127.0.0.1:0'];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /serving .* at (http:\/\/[^\s]+)\/cvmfs\//.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`barge serve exited (${code}): ${out}`)));
  });
  return { child, url };
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Every file under `dir` with its size and mtime: what a writer would change. */
async function listing(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await fsp.readdir(dir, { recursive: true })) {
    const st = await fsp.lstat(path.join(dir, rel));
    if (st.isFile()) out.set(rel, `${st.size}:${st.mtimeMs}`);
  }
  return out;
}

/** Paths added, removed or changed between two listings. */
function changes(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

/**
 * The dashboard's `<state>/<fqrn>/stats.db` (and its WAL): a writable `barge serve` samples every
 * repository into it (src/observe/stats-db.ts); a `--read-only` one keeps its samples in memory.
 */
const STATS_DB = /^state\/[^/]+\/stats\.db(-wal|-shm)?$/;

/**
 * Issue 6: `barge serve` in front of a replica runs as several stateless processes; publishing (here
 * `barge replicate`) stays with the one writer. Two serve processes on one replica data directory
 * answer alike, write nothing there, hold no lock, and both serve a new snapshot at once.
 */
describe('several barge serve processes in front of one replica', () => {
  const tmp = tempDir();
  const sourceData = path.join(tmp.dir, 'source');
  const replicaData = path.join(tmp.dir, 'replica');
  const tree = path.join(tmp.dir, 'tree');
  const served = repositoryPaths(replicaData, FQRN).served;
  let source: BargeSource;
  let server: LoggedServer;
  const serves: { child: ChildProcess; url: string }[] = [];

  before(async () => {
    source = await BargeSource.create(sourceData, FQRN);
    await fsp.mkdir(tree, { recursive: true });
    await fsp.writeFile(path.join(tree, 'hello.txt'), 'one\n');
    await source.publish(tree);
    server = await serveLogged(sourceData);
    await replicate({
      source: `${server.url}/cvmfs/${FQRN}`,
      fqrn: FQRN,
      publicKeysPem: [source.publicKeyPem],
      dataDir: replicaData,
    });
  });
  after(async () => {
    for (const s of serves) await stopServe(s.child);
    await server.close();
    tmp.cleanup();
  });

  /** Changes the serve processes made, found by the first test; the stats db is tracked apart. */
  const byServe: string[] = [];

  it('serve from one data directory without its lock or its files, and follow a new snapshot', async () => {
    const before = await listing(replicaData);
    serves.push(await startServe(replicaData), await startServe(replicaData));
    for (const s of serves) await conformant(`${s.url}/cvmfs/${FQRN}`, source.pub);
    byServe.push(...changes(before, await listing(replicaData)));
    assert.deepEqual(
      byServe.filter((k) => !STATS_DB.test(k)),
      [],
      'serving wrote into the data directory',
    );

    // The one writer: a snapshot of a new source revision while both serve (it takes the lock).
    await fsp.writeFile(path.join(tree, 'hello.txt'), 'two\n');
    await source.publish(tree);
    const r = await runBargeAsync([
      'replicate',
      `${server.url}/cvmfs/${FQRN}`,
      FQRN,
      '--key',
      source.pub,
      '--data',
      replicaData,
    ]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const written = await listing(replicaData);
    const manifest = await fsp.readFile(path.join(source.served, '.cvmfspublished'));
    assert.deepEqual(await fsp.readFile(path.join(served, '.cvmfspublished')), manifest);
    for (const s of serves) {
      const res = await fetch(`${s.url}/cvmfs/${FQRN}/.cvmfspublished`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), manifest, `${s.url} serves the new manifest`);
      await conformant(`${s.url}/cvmfs/${FQRN}`, source.pub);
    }
    for (const s of serves) await stopServe(s.child);
    const late = changes(written, await listing(replicaData));
    byServe.push(...late);
    assert.deepEqual(
      late.filter((k) => !STATS_DB.test(k)),
      [],
      'serving wrote into the data directory',
    );
  });

  it('write no dashboard statistics into the data directory', () => {
    assert.deepEqual(byServe, []);
  });
});
