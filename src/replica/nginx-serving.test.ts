import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_FQRN, FIXTURE_PUB, FIXTURE_SERVED } from '../testing/fixture.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import { type NginxProcess, nginxAvailable, startNginx } from './nginx-test-support.js';
import { conformant } from './replica-test-support.js';

/**
 * docs/nginx.conf, the configuration barge ships for serving with nginx, serving a replica of the
 * cvmfs_server reference repository: conformant with --strict over HTTP (which also checks the
 * headers), with barge serve's lifetimes, no validators, and staging never served.
 */
describe('nginx with docs/nginx.conf serving a replica', {
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
    nginx = await startNginx({ dataDir: data, prefix: path.join(tmp.dir, 'nginx'), workers: 1 });
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
