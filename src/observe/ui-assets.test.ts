import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Router, type RunningServer, startServer } from '../server/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { UiAssets, uiMissing, uiRedirect } from './ui-assets.js';

describe('ui assets: the built dashboard under /ui/', () => {
  const tmp = tempDir();
  let server: RunningServer;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

  before(async () => {
    const dir = path.join(tmp.dir, 'ui');
    mkdirSync(path.join(dir, 'assets'), { recursive: true });
    writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><script type="module" src="/ui/assets/app-1a2b.js"></script>',
    );
    writeFileSync(path.join(dir, 'assets', 'app-1a2b.js'), script);
    const ui = await UiAssets.load(dir);
    assert.ok(ui);
    assert.deepEqual(ui.names(), ['assets/app-1a2b.js', 'index.html']);
    const router = new Router()
      .on(['GET', 'HEAD'], '/ui', uiRedirect())
      .on(['GET', 'HEAD'], '/ui/*', ui.handler());
    server = await startServer({ dataDir: tmp.dir, listen: '127.0.0.1:0' }, router);
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('serves index.html for /ui/, revalidated every time (no-cache, ETag, 304) and under a strict CSP', async () => {
    const res = await fetch(`${server.url}/ui/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const etag = res.headers.get('etag') ?? '';
    assert.match(etag, /^W\/"/);
    const again = await fetch(`${server.url}/ui/`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal((await again.text()).length, 0);
  });

  it('serves hashed assets for a year, immutable, brotli or gzip as the client accepts', async () => {
    const url = `${server.url}/ui/assets/app-1a2b.js`;
    const plain = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(await plain.text(), script);
    for (const [accept, coding, inflate] of [
      ['gzip, deflate', 'gzip', zlib.gunzipSync],
      ['gzip;q=0.5, br', 'br', zlib.brotliDecompressSync],
      ['br;q=0, gzip', 'gzip', zlib.gunzipSync],
    ] as const) {
      // node's fetch would decode on its own: read the raw bytes with http.
      const { headers, body } = await raw(url, accept);
      assert.equal(headers['content-encoding'], coding, accept);
      assert.equal(headers.vary, 'Accept-Encoding');
      assert.ok(body.length < script.length / 10, `${coding} is small: ${body.length}`);
      assert.equal(inflate(body).toString(), script);
    }
  });

  it('answers 404 for files that were not built, and /ui with a redirect to /ui/', async () => {
    assert.equal((await fetch(`${server.url}/ui/assets/missing.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/ui/../../etc/passwd`)).status, 404);
    const r = await fetch(`${server.url}/ui`, { redirect: 'manual' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get('location'), '/ui/');
  });

  it('is absent when the dashboard was not built, and says how to build it', async () => {
    assert.equal(await UiAssets.load(path.join(tmp.dir, 'nothing-here')), undefined);
    const router = new Router().on(['GET'], '/ui/*', uiMissing());
    const bare = await startServer({ dataDir: tmp.dir, listen: '127.0.0.1:0' }, router);
    try {
      const r = await fetch(`${bare.url}/ui/`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /npm run build/);
    } finally {
      await bare.close();
    }
  });
});

async function raw(url: string, accept: string): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'Accept-Encoding': accept } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ headers: res.headers as Record<string, string>, body: Buffer.concat(parts) }),
        );
      })
      .on('error', reject);
  });
}
