import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRouter, type RunningServer, startServer } from '../server/index.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { TokenStore } from '../usercode/token-store.js';
import { browsePath } from './file-listing.js';
import { Observer } from './observer.js';

const FQRN = 'observe.example.org';

describe('observer: request ids, JSON logs, health, and the refusals of the dashboard API', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const lines: string[] = [];
  let observer: Observer;
  let server: RunningServer;
  const tokens: Record<string, string> = {};
  const events = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    const src = path.join(tmp.dir, 'src');
    mkdirSync(path.join(src, 'sw'), { recursive: true });
    writeFileSync(path.join(src, 'sw', 'run.sh'), 'echo hi\n');
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    const p = runBarge(['publish', FQRN, src, '--data', data]);
    assert.equal(p.status, 0, p.stderr);
    const store = new TokenStore(data);
    tokens.admin = store.create({ group: '*', scope: 'admin' }).token;
    tokens.groupAdmin = store.create({ group: 'cms', scope: 'admin' }).token;
    tokens.publish = store.create({ group: 'cms' }).token;
    tokens.otherRepo = store.create({ group: '*', scope: 'admin', repository: 'other.example.org' }).token;
    store.close();
    observer = await Observer.open({ dataDir: data, write: (l) => lines.push(l) });
    const router = observer.addRoutes(createRouter({ dataDir: data }));
    server = await startServer({ dataDir: data, listen: '127.0.0.1:0', ...observer.serverOptions() }, router);
  });
  after(async () => {
    await server?.close();
    await observer?.close();
    tmp.cleanup();
  });

  it('honours a sane X-Request-Id, replaces anything else, echoes it, and logs one JSON line per request', async () => {
    const mine = await fetch(`${server.url}/cvmfs/${FQRN}/.cvmfspublished`, {
      headers: { 'X-Request-Id': 'squid-4711.abc' },
    });
    assert.equal(mine.headers.get('x-request-id'), 'squid-4711.abc');
    const hostile = await fetch(`${server.url}/healthz`, {
      headers: { 'X-Request-Id': 'a"b c{}'.repeat(3) },
    });
    const generated = hostile.headers.get('x-request-id') ?? '';
    assert.match(generated, /^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const logged = events().filter((e) => e.event === 'http.request');
    const first = logged.find((e) => e.requestId === 'squid-4711.abc');
    assert.ok(first, 'the caller id is in the log');
    assert.equal(first.level, 'info');
    assert.equal(first.status, 200);
    assert.equal(first.route, '/cvmfs/:fqrn/.cvmfs*');
    assert.equal(first.path, `/cvmfs/${FQRN}/.cvmfspublished`);
    assert.equal(typeof first.ms, 'number');
    assert.match(String(first.time), /^\d{4}-\d\d-\d\dT/);
    assert.ok(logged.some((e) => e.requestId === generated));
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
  });

  it('answers /healthz always and /readyz until the server drains', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as {
      status: string;
      repositories: Record<string, { revision: number }>;
    };
    assert.equal(body.status, 'ready');
    assert.equal(body.repositories[FQRN]?.revision, 2);
    observer.drain();
    try {
      const draining = await fetch(`${server.url}/readyz`);
      assert.equal(draining.status, 503);
      assert.deepEqual(((await draining.json()) as { problems: string[] }).problems, ['shutting down']);
    } finally {
      (observer as unknown as { draining: boolean }).draining = false;
    }
  });

  it('answers unknown repositories, bad paths and unknown roots with a JSON error of the right status', async () => {
    const get = async (p: string) => {
      const r = await fetch(`${server.url}/api/v1/ui/repositories/${p}`);
      return { status: r.status, error: ((await r.json()) as { error: { code: string } }).error };
    };
    const missing = await get('nope.example.org/images');
    assert.deepEqual([missing.status, missing.error.code], [404, 'REPO_NOT_FOUND']);
    assert.equal((await get(`${FQRN}/files?path=/sw/../..`)).error.code, 'INVALID_PATH');
    assert.equal((await get(`${FQRN}/files?path=/sw/run.sh`)).status, 400);
    const root = await get(`${FQRN}/files?root=${'0'.repeat(40)}`);
    assert.deepEqual([root.status, root.error.code], [404, 'TAG_NOT_FOUND']);
  });

  it('refuses admin actions without an admin token for all groups, and logs the refusal with the request id', async () => {
    const gc = (token?: string) =>
      fetch(`${server.url}/api/v1/ui/repositories/${FQRN}/gc`, {
        method: 'POST',
        headers: {
          'X-Request-Id': `gc-${token ? token.slice(0, 6) : 'none'}`,
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      });
    const none = await gc();
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="barge"');
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'TOKEN_MISSING');
    assert.equal((await gc('barge_not-a-token')).status, 401);
    for (const t of [tokens.publish, tokens.groupAdmin, tokens.otherRepo]) {
      const r = await gc(t);
      assert.equal(r.status, 403);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    }
    const ok = await gc(tokens.admin);
    assert.equal(ok.status, 200);
    const report = (await ok.json()) as { dryRun: boolean; fqrn: string };
    assert.deepEqual([report.dryRun, report.fqrn], [true, FQRN]);
    const refused = events().filter((e) => e.event === 'admin.refused');
    assert.ok(refused.some((e) => e.requestId === 'gc-none' && e.code === 'TOKEN_MISSING'));
    assert.ok(events().some((e) => e.event === 'admin.gc_dry_run' && e.repository === FQRN));
    const rm = await fetch(
      `${server.url}/api/v1/ui/repositories/${FQRN}/images?reference=r.example.org/a:1`,
      {
        method: 'DELETE',
      },
    );
    assert.equal(rm.status, 401);
  });

  it('normalises browser paths and refuses . and .. components', () => {
    assert.equal(browsePath('/'), '');
    assert.equal(browsePath(null), '');
    assert.equal(browsePath('/sw/v1/'), '/sw/v1');
    for (const bad of ['sw', '/sw/../etc', '/./x', '//x', `/${'a'.repeat(5000)}`]) {
      assert.throws(() => browsePath(bad), /INVALID_PATH|not a repository path/, bad);
    }
  });
});
