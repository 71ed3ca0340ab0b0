import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseManifest } from '../manifest/index.js';
import { objectPath } from '../object/index.js';
import { httpSource, RepositoryReader } from '../repository/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import { BargeSource, type LoggedServer, serveLogged } from './replica-test-support.js';
import { isCacheHit, type SquidProcess, squidAvailable, startSquid } from './squid-test-support.js';

const FQRN = 'cached.example.org';
/** The manifest lifetime barge serve announces here (61 s in production). */
const TTL = 10;

/** A GET through the proxy, as the cvmfs client sends it (absolute-form target, no keep-alive). */
function getVia(proxy: SquidProcess, url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, path: url, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Debian's Squid on loopback in front of barge serve serving a replica, as sites deploy it:
 * within their lifetimes the manifest and data objects come from Squid's cache (its access log
 * says so, and barge serve sees one request each), and once the manifest's lifetime has passed a
 * client through Squid sees the revision the replica took since.
 */
describe('Squid in front of barge serve', {
  skip: squidAvailable() ? false : 'squid is not installed',
}, () => {
  const tmp = tempDir();
  const tree = path.join(tmp.dir, 'tree');
  const replicaData = path.join(tmp.dir, 'replica');
  let source: BargeSource;
  let replica: LoggedServer;
  let squid: SquidProcess;
  let base: string;
  let firstRead = 0;
  let firstManifest: Buffer;
  const snapshot = () =>
    replicate({
      source: source.served,
      fqrn: FQRN,
      publicKeysPem: [source.publicKeyPem],
      dataDir: replicaData,
    });
  const requestsFor = (key: string) => replica.requests.filter((r) => r.path.endsWith(`/${key}`)).length;
  const logFor = (key: string) => squid.accessLog().filter((e) => e.url.endsWith(`/${key}`));

  before(async () => {
    await fsp.mkdir(tree);
    await fsp.writeFile(path.join(tree, 'big.bin'), randomBytes(1 << 20));
    await fsp.writeFile(path.join(tree, 'small.txt'), 'small\n');
    source = await BargeSource.create(path.join(tmp.dir, 'source'), FQRN);
    await source.publish(tree);
    await snapshot();
    replica = await serveLogged(replicaData, { mutableMaxAge: TTL });
    base = `${replica.url}/cvmfs/${FQRN}`;
    squid = await startSquid();
  });
  after(async () => {
    await squid?.stop();
    await replica?.close();
    tmp.cleanup();
  });

  it('answers the second read of the manifest and of a data object from its cache', async () => {
    const reader = await RepositoryReader.open(httpSource(base, { proxy: false }), {
      publicKeysPem: [source.publicKeyPem],
      fqrn: FQRN,
    });
    const big = await reader.lookup('/big.bin');
    await reader.close();
    const objectKey = objectPath(big?.hash as string, '');
    for (const key of ['.cvmfspublished', objectKey]) {
      const before = requestsFor(key);
      if (key === '.cvmfspublished') firstRead = Date.now();
      const a = await getVia(squid, `${base}/${key}`);
      const b = await getVia(squid, `${base}/${key}`);
      assert.equal(a.status, 200);
      assert.deepEqual(b.body, a.body);
      if (key === '.cvmfspublished') firstManifest = a.body;
      const codes = logFor(key).map((e) => e.code);
      assert.equal(codes.length, 2, `${key}: ${codes.join(', ')}`);
      assert.ok(isCacheHit(codes[1] as string), `second read of ${key} was ${codes[1]}`);
      assert.equal(requestsFor(key) - before, 1, `barge serve saw one request for ${key}`);
    }
  });

  it('shows a new revision through the cache once the manifest lifetime has passed', async (t) => {
    await fsp.writeFile(path.join(tree, 'new.txt'), 'the new revision\n');
    assert.equal(await source.publish(tree), 3);
    assert.equal((await snapshot()).revision, 3);
    // Within the lifetime Squid still answers the revision it holds (on a loaded machine the
    // publish and snapshot above may outlast the lifetime; then only the second half is shown).
    if (Date.now() - firstRead < (TTL - 2) * 1000) {
      const cached = await getVia(squid, `${base}/.cvmfspublished`);
      assert.deepEqual(cached.body, firstManifest, 'the cached revision within its lifetime');
      assert.ok(isCacheHit(logFor('.cvmfspublished').at(-1)?.code ?? ''));
      t.diagnostic('within its lifetime the cached manifest was served');
    } else t.diagnostic('the publish and snapshot outlasted the lifetime: cached answer not checked');
    await sleep(Math.max(0, firstRead + (TTL + 2) * 1000 - Date.now()));
    const fresh = await getVia(squid, `${base}/.cvmfspublished`);
    assert.equal(parseManifest(fresh.body).revision, 3);
    assert.ok(!isCacheHit(logFor('.cvmfspublished').at(-1)?.code ?? ''), 'fetched again from barge serve');
    // A client reading through the proxy mounts the new revision and reads the new file.
    const source3 = httpSource(base, { proxy: squid.url });
    const reader = await RepositoryReader.open(source3, { publicKeysPem: [source.publicKeyPem], fqrn: FQRN });
    try {
      assert.equal(reader.manifest.revision, 3);
      const entry = await reader.lookup('/new.txt');
      assert.equal((await reader.fetchObject(entry?.hash as string, '')).toString(), 'the new revision\n');
    } finally {
      await reader.close();
      source3.close();
    }
  });
});
