import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_FQRN, FIXTURE_PUB, FIXTURE_SERVED } from '../testing/fixture.js';
import { freePort } from '../testing/ports.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import {
  type NginxProcess,
  type NginxSetup,
  nginxAvailable,
  nginxConfArgs,
  startNginx,
  testNginxConfig,
} from './nginx-test-support.js';
import { conformant } from './replica-test-support.js';

/**
 * What `barge nginx-conf` prints for `setup` (the test switches: loopback, foreground, private
 * pid and logs), written to `<prefix>/nginx.conf` and accepted by `nginx -t`.
 */
async function generatedConfig(setup: NginxSetup): Promise<string> {
  const r = runBarge(nginxConfArgs(setup));
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes('/srv/barge-data'));
  mkdirSync(setup.prefix, { recursive: true });
  const conf = path.join(setup.prefix, 'nginx.conf');
  writeFileSync(conf, r.stdout);
  const t = testNginxConfig(setup.prefix, conf);
  assert.equal(t.status, 0, t.output);
  assert.match(t.output, /test is successful/);
  return r.stdout;
}

/**
 * The configuration `barge nginx-conf` generates (docs/nginx.conf filled in) serving a replica of
 * the cvmfs_server reference repository: conformant with --strict over HTTP (which also checks
 * the headers), with barge serve's lifetimes, no validators, and staging never served.
 */
describe('nginx with the configuration of barge nginx-conf serving a replica', {
  skip: nginxAvailable() ? false : 'nginx is not installed',
}, () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  let nginx: NginxProcess;
  let base: string;

  before(async () => {
    await replicate({
      source: FIXTURE_SERVED,
      fqrn: FIXTURE_FQRN,
      publicKeysPem: [readFileSync(FIXTURE_PUB, 'utf8')],
      dataDir: data,
    });
    const setup = { dataDir: data, prefix: path.join(tmp.dir, 'nginx'), port: await freePort(), workers: 1 };
    nginx = await startNginx({ ...setup, config: await generatedConfig(setup) });
    base = `${nginx.url}/cvmfs/${FIXTURE_FQRN}`;
  });
  after(async () => {
    await nginx?.stop();
    tmp.cleanup();
  });

  it('passes cvmfs-conformance.py --strict --all-revisions over HTTP', async () => {
    await conformant(base, FIXTURE_PUB);
  });

  it('sends the lifetimes of barge serve and no validators', async () => {
    const manifest = await fetch(`${base}/.cvmfspublished`);
    assert.equal(manifest.headers.get('cache-control'), 'max-age=61');
    const rootHash = /\nC([0-9a-f]{40})/.exec(`\n${await manifest.text()}`)?.[1] as string;
    const object = await fetch(`${base}/data/${rootHash.slice(0, 2)}/${rootHash.slice(2)}C`);
    assert.equal(object.status, 200);
    assert.equal(object.headers.get('cache-control'), 'max-age=259200');
    for (const r of [manifest, object]) {
      assert.equal(r.headers.get('last-modified'), null);
      assert.equal(r.headers.get('etag'), null);
      assert.equal(r.headers.get('content-encoding'), null);
    }
    await object.arrayBuffer();
  });

  it('never serves the staging directory', async () => {
    assert.equal((await fetch(`${base}/data/txn/`)).status, 404);
    assert.equal((await fetch(`${base}/data/txn/x.tmp`)).status, 404);
  });
});

/**
 * A repository kept in S3 has no files under repos/: the generated configuration passes all of it
 * to barge serve (here a stand-in that names what it was asked), object paths included, which
 * the regular expressions for data/ on disk would otherwise take; a repository on disk is still
 * sent by nginx itself.
 */
describe('nginx with the configuration of barge nginx-conf and a repository kept in S3', {
  skip: nginxAvailable() ? false : 'nginx is not installed',
}, () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const S3_FQRN = 'bucket.example.org';
  const DISK_FQRN = 'disk.example.org';
  const OBJECT = 'data/ab/cdef0123456789abcdef0123456789abcdef01C';
  let nginx: NginxProcess;
  let upstream: http.Server;

  before(async () => {
    mkdirSync(path.join(data, 'repos', S3_FQRN), { recursive: true });
    mkdirSync(path.join(data, 'state', S3_FQRN), { recursive: true });
    const storage = { type: 's3', endpoint: 'http://127.0.0.1:1', bucket: 'barge-test' };
    writeFileSync(path.join(data, 'state', S3_FQRN, 'repository.json'), JSON.stringify({ storage }));
    mkdirSync(path.join(data, 'repos', DISK_FQRN, 'data', 'ab'), { recursive: true });
    writeFileSync(path.join(data, 'repos', DISK_FQRN, OBJECT), 'on disk');
    upstream = http.createServer((req, res) => res.end(`barge serve: ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const setup = {
      dataDir: data,
      prefix: path.join(tmp.dir, 'nginx'),
      port: await freePort(),
      workers: 1,
      barge: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    };
    const config = await generatedConfig(setup);
    assert.ok(config.includes(`location ^~ /cvmfs/${S3_FQRN}/ {`));
    nginx = await startNginx({ ...setup, config });
  });
  after(async () => {
    await nginx?.stop();
    upstream?.close();
    tmp.cleanup();
  });

  it('passes objects, manifests and staging of the S3 repository to barge serve', async () => {
    for (const key of [OBJECT, '.cvmfspublished', 'data/txn/x.tmp']) {
      const r = await fetch(`${nginx.url}/cvmfs/${S3_FQRN}/${key}`);
      assert.equal(r.status, 200, key);
      assert.equal(await r.text(), `barge serve: /cvmfs/${S3_FQRN}/${key}`);
    }
  });

  it('still sends the repository on disk itself', async () => {
    const r = await fetch(`${nginx.url}/cvmfs/${DISK_FQRN}/${OBJECT}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'max-age=259200');
    assert.equal(await r.text(), 'on disk');
  });
});
