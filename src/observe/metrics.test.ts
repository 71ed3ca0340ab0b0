import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { runBarge } from '../testing/run-barge.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { type PromScrape, parsePrometheusText, type ServeChild, startServe } from './test-support.js';

const FQRN = 'metrics.example.org';
const repo = { repository: FQRN };

describe('/metrics of barge serve, scraped after a publish and a gc', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const src = path.join(tmp.dir, 'src');
  let serve: ServeChild;
  let token: string;

  const publish = () => {
    const r = runBarge(['publish', FQRN, src, '--at', '/sw', '--data', data]);
    assert.equal(r.status, 0, r.stderr);
  };
  const scrape = async (): Promise<PromScrape> => {
    const res = await fetch(`${serve.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheusText(await res.text());
  };
  /** Scrapes until `done` holds (the storage numbers follow a publish within a few scrapes). */
  const scrapeUntil = async (done: (s: PromScrape) => boolean): Promise<PromScrape> => {
    // Samples are taken in the background, paced by how long one takes: generous on a loaded CI.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = await scrape();
      if (done(s)) return s;
      if (Date.now() > deadline) throw new Error('the metrics did not reach the expected state in 90 s');
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  before(async () => {
    mkdirSync(path.join(src, 'lib'), { recursive: true });
    // Random bytes: what gc frees later is this file's object, which nothing else shares.
    writeFileSync(path.join(src, 'lib', 'big.bin'), randomBytes(300_000));
    writeFileSync(path.join(src, 'README'), 'version 1\n');
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    publish();
    assert.equal(runBarge(['uploads', 'enable', FQRN, '--data', data]).status, 0);
    const created = runBarge(['token', 'create', '--group', 'nova', '--data', data]);
    assert.equal(created.status, 0, created.stderr);
    token = created.stdout.trim();
    serve = await startServe(data);
  });
  after(async () => {
    await serve?.stop();
    tmp.cleanup();
  });

  it('is the text format with HELP and TYPE for every family, and counts requests and uploads by route', async () => {
    await fetch(`${serve.url}/cvmfs/${FQRN}/.cvmfspublished`);
    await fetch(`${serve.url}/cvmfs/${FQRN}/no-such-file`);
    const tarball = zlib.gzipSync(buildTar([{ name: 'setup.sh', mode: 0o755, content: 'export NOVA=1\n' }]));
    const digest = createHash('sha256').update(tarball).digest('hex');
    const put = await fetch(`${serve.url}/api/v1/uploads/nova/${digest}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}` },
      body: tarball,
    });
    assert.equal(put.status, 201, await put.text());
    const s = await scrape();
    for (const name of [
      'barge_http_requests_total',
      'barge_http_request_duration_seconds',
      'barge_upload_duration_seconds',
      'barge_publishes_total',
      'barge_objects_stored',
      'barge_stored_bytes',
      'barge_dedup_ratio',
      'barge_gc_runs_total',
      'barge_gc_freed_bytes_total',
      'barge_whitelist_expiry_seconds',
    ]) {
      assert.ok(s.types.has(name) && s.help.has(name), `${name} has TYPE and HELP`);
    }
    assert.equal(s.types.get('barge_http_request_duration_seconds'), 'histogram');
    const route = '/cvmfs/:fqrn/.cvmfs*';
    assert.equal(s.value('barge_http_requests_total', { route, method: 'GET', code: '200' }), 1);
    assert.equal(
      s.value('barge_http_requests_total', { route: '/cvmfs/:fqrn/*', method: 'GET', code: '404' }),
      1,
    );
    assert.equal(s.value('barge_http_request_duration_seconds_count', { route, method: 'GET' }), 1);
    assert.equal(s.value('barge_upload_duration_seconds_count', { api: 'v1', code: '201' }), 1);
    assert.equal(s.value('barge_uploads', { ...repo, state: 'published' }), 1);
    // The whitelist of a new repository is good for 30 days.
    const expiry = s.value('barge_whitelist_expiry_seconds', repo) ?? 0;
    assert.ok(expiry > 29 * 86400 && expiry <= 30 * 86400, `${expiry} s to expiry`);
  });

  it('shows a publish by another process: revision, publishes and the storage numbers change', async () => {
    // The storage numbers first catch up with the upload of the previous test.
    const upload = 'export NOVA=1\n'.length;
    const before = await scrapeUntil((s) => s.value('barge_logical_bytes', repo) === 300_000 + 10 + upload);
    const revision = before.value('barge_repository_revision', repo) as number;
    writeFileSync(path.join(src, 'lib', 'more.bin'), randomBytes(100_000));
    publish();
    const after = await scrapeUntil(
      (s) => s.value('barge_logical_bytes', repo) !== before.value('barge_logical_bytes', repo),
    );
    assert.equal(after.value('barge_repository_revision', repo), revision + 1);
    assert.equal(
      after.value('barge_publishes_total', repo),
      (before.value('barge_publishes_total', repo) ?? 0) + 1,
    );
    assert.equal(
      after.value('barge_logical_bytes', repo),
      (before.value('barge_logical_bytes', repo) ?? 0) + 100_000,
      'the new file is counted',
    );
    assert.ok(
      (after.value('barge_stored_bytes', repo) ?? 0) >
        (before.value('barge_stored_bytes', repo) ?? 0) + 100_000,
      'random bytes do not compress: the store grew by at least their size',
    );
    assert.ok(
      (after.value('barge_objects_stored', repo) ?? 0) > (before.value('barge_objects_stored', repo) ?? 0),
    );
    const info = JSON.parse(runBarge(['info', FQRN, '--data', data, '--json']).stdout) as {
      objects: number;
      logicalBytes: number;
    };
    assert.equal(after.value('barge_revision_objects', repo), info.objects);
    assert.equal(after.value('barge_logical_bytes', repo), info.logicalBytes);
    const ratio = after.value('barge_dedup_ratio', repo) ?? 0;
    const expected = info.logicalBytes / (after.value('barge_stored_bytes', repo) ?? 1);
    assert.ok(Math.abs(ratio - expected) < 1e-9);
  });

  it('shows a gc: runs and freed bytes counted, the store smaller by what gc freed', async () => {
    // big.bin leaves the tree; two more publishes move it out of trunk-previous too.
    rmSync(path.join(src, 'lib', 'big.bin'));
    publish();
    writeFileSync(path.join(src, 'README'), 'version 2\n');
    publish();
    const before = await scrapeUntil(
      (s) =>
        s.value('barge_logical_bytes', repo) === 100_000 + 'version 2\n'.length + 'export NOVA=1\n'.length,
    );
    assert.equal(before.value('barge_gc_runs_total', repo), 0);
    const gc = runBarge(['gc', FQRN, '--keep-revisions', '1', '--keep-days', '0', '--json', '--data', data]);
    assert.equal(gc.status, 0, gc.stderr);
    const report = JSON.parse(gc.stdout) as {
      bytesFreed: number;
      objectsDeleted: number;
      catalogsDeleted: number;
    };
    assert.ok(report.bytesFreed >= 300_000, `gc freed ${report.bytesFreed} bytes`);
    const after = await scrapeUntil(
      (s) => s.value('barge_stored_bytes', repo) !== before.value('barge_stored_bytes', repo),
    );
    assert.equal(after.value('barge_gc_runs_total', repo), 1);
    assert.equal(after.value('barge_gc_freed_bytes_total', repo), report.bytesFreed);
    assert.equal(
      after.value('barge_gc_deleted_objects_total', repo),
      report.objectsDeleted,
      'objects deleted, as gc counts them',
    );
    assert.equal(
      after.value('barge_stored_bytes', repo),
      (before.value('barge_stored_bytes', repo) ?? 0) - report.bytesFreed,
      'the store shrank by exactly what gc freed',
    );
    assert.ok((after.value('barge_gc_last_run_timestamp_seconds', repo) ?? 0) > Date.now() / 1000 - 600);
  });
});
