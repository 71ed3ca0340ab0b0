import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { repositoryPaths } from '../repository/index.js';
import { runBarge } from '../testing/run-barge.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { StatsDb } from './stats-db.js';
import { type ServeChild, startServe } from './test-support.js';

const FQRN = 'dashboard.example.org';
/** A second repository whose whitelist expires in 3 days: the overview must warn. */
const EXPIRING = 'expiring.example.org';
const IMAGE = 'registry.example.org/exp/base:1';
const BROKEN = 'registry.example.org/exp/broken:2';
/** Debian's chromium; Playwright's own browser downloads are not used. */
const CHROMIUM = process.env.BARGE_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots, kept by CI as artifacts. */
const RESULTS = path.resolve(fileURLToPath(import.meta.url), '../../../test-results');
// CI installs chromium (.ci/run); elsewhere a machine without it skips these tests rather than fail.
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `no ${CHROMIUM} (apt-get install chromium)` : false;

describe('dashboard end to end: headless Chromium against barge serve', { skip }, () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  let serve: ServeChild;
  let browser: Browser;
  let page: Page;
  let adminToken: string;
  let uploadCid: string;
  /** Console errors and uncaught exceptions of the page, as they come. */
  const problems: string[] = [];

  const barge = (...args: string[]) => {
    const r = runBarge([...args, '--data', data]);
    assert.equal(r.status, 0, `barge ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** Opens a page of the dashboard and waits until its data has loaded. */
  const open = async (hash: string) => {
    await page.goto(`${serve.url}/ui/${hash}`);
    await page.waitForSelector('main h1, main .note, main p.muted');
    await page.locator('main >> text=Loading…').waitFor({ state: 'detached' });
  };
  /** The text of the first element `selector` matches. */
  const text = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';
  const shot = (name: string) =>
    page.screenshot({ path: path.join(RESULTS, `dashboard-${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(RESULTS, { recursive: true });
    // A tree with a nested catalog, tagged; then a file that lives only in revision 3, so that gc
    // has something to free; then an image from an OCI layout built with umoci.
    const src = path.join(tmp.dir, 'src');
    mkdirSync(path.join(src, 'sw', 'v1', 'lib'), { recursive: true });
    mkdirSync(path.join(src, 'doc'), { recursive: true });
    writeFileSync(path.join(src, 'sw', 'v1', '.cvmfscatalog'), '');
    writeFileSync(path.join(src, 'sw', 'v1', 'run.sh'), '#!/bin/sh\necho v1\n');
    writeFileSync(path.join(src, 'sw', 'v1', 'lib', 'libx.so'), 'x'.repeat(20_000));
    writeFileSync(path.join(src, 'doc', 'README'), 'the dashboard test\n');
    barge('init', FQRN);
    barge('init', EXPIRING, '--whitelist-days', '3');
    barge('publish', FQRN, src);
    barge('tag', FQRN, 'v1', '-m', 'first release');
    writeFileSync(path.join(src, 'sw', 'scratch.bin'), randomBytes(50_000));
    barge('publish', FQRN, path.join(src, 'sw'), '--at', '/sw');
    rmSync(path.join(src, 'sw', 'scratch.bin'));
    barge('publish', FQRN, path.join(src, 'sw'), '--at', '/sw');
    const layout = path.join(tmp.dir, 'layout');
    const bundle = path.join(tmp.dir, 'bundle');
    const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:base`);
    umoci('unpack', '--rootless', '--image', `${layout}:base`, bundle);
    mkdirSync(path.join(bundle, 'rootfs', 'usr', 'bin'), { recursive: true });
    writeFileSync(path.join(bundle, 'rootfs', 'usr', 'bin', 'tool'), '#!/bin/sh\necho tool\n');
    umoci('repack', '--image', `${layout}:base`, bundle);
    barge('images', 'add', `oci:${layout}:base`, '--as', IMAGE, '--repo', FQRN);
    const gc = JSON.parse(barge('gc', FQRN, '--keep-revisions', '1', '--keep-days', '0', '--json')) as {
      bytesFreed: number;
    };
    assert.ok(gc.bytesFreed >= 50_000, 'gc freed the scratch file');
    // What `barge images sync` would record for an image whose registry failed.
    const stats = new StatsDb(repositoryPaths(data, FQRN).state);
    stats.recordSync({
      reference: BROKEN,
      status: 'failed',
      error: { code: 'REGISTRY_UNAVAILABLE', message: 'registry.example.org answered 503 three times' },
    });
    stats.close();
    barge('uploads', 'enable', FQRN);
    const publishToken = barge('token', 'create', '--group', 'cms').trim();
    adminToken = barge('token', 'create', '--group', '*', '--scope', 'admin').trim();
    serve = await startServe(data);
    const tarball = zlib.gzipSync(
      buildTar([{ name: 'analysis.py', mode: 0o644, content: 'print("cms")\n' }]),
    );
    const digest = createHash('sha256').update(tarball).digest('hex');
    uploadCid = `cms/${digest}`;
    const put = await fetch(`${serve.url}/api/v1/uploads/${uploadCid}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${publishToken}` },
      body: tarball,
    });
    assert.equal(put.status, 201, await put.text());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
    tmp.cleanup();
  });

  it('loads every page without console errors (screenshots in test-results/)', async () => {
    await open('#/');
    const expiring = page.locator(`[data-fqrn="${EXPIRING}"] [data-testid="whitelist-warning"]`);
    assert.match((await expiring.textContent()) ?? '', /expires in [23] d: run barge resign/);
    assert.equal(await page.locator(`[data-fqrn="${FQRN}"] [data-testid="whitelist-warning"]`).count(), 0);
    assert.match(await text(`[data-fqrn="${FQRN}"]`), /v1@2/);
    await shot('overview');

    await open(`#/repo/${FQRN}/images`);
    const image = await text(`tr[data-reference="${IMAGE}"]`);
    assert.match(image, /amd64/);
    assert.match(image, /published/);
    assert.match(await text(`tr[data-reference="${BROKEN}"]`), /REGISTRY_UNAVAILABLE/);
    await shot('images');

    await open(`#/repo/${FQRN}/uploads`);
    assert.match(await text('section.group h2'), /^cms/);
    assert.match(await text(`tr[data-cid="${uploadCid}"]`), /in 29 d|in 30 d/);
    await shot('uploads');

    await open(`#/repo/${FQRN}/storage`);
    assert.equal(await page.locator('[data-testid="dedup-chart"] svg path.line').count(), 2);
    await shot('storage');

    await open(`#/repo/${FQRN}/gc`);
    assert.equal(await page.locator('[data-testid="gc-chart"] svg rect').count(), 1, 'one gc run, one bar');
    assert.equal(await page.locator('main table tbody tr').count(), 1);
    await shot('gc');

    await open(`#/repo/${FQRN}/files`);
    await shot('files');
    assert.deepEqual(problems, []);
  });

  it('browses into a nested catalog, and into a tagged revision', async () => {
    await open(`#/repo/${FQRN}/files`);
    await page.click('tr[data-name="sw"] a');
    await page.waitForSelector('tr[data-name="v1"]');
    assert.match(await text('tr[data-name="v1"]'), /nested catalog/);
    await page.click('tr[data-name="v1"] a');
    await page.locator('[data-testid="catalog"]:text-is("/sw/v1")').waitFor();
    assert.match(await text('tr[data-name="run.sh"]'), /0644/);
    await page.click('tr[data-name="lib"] a');
    await page.waitForSelector('tr[data-name="libx.so"]');
    assert.match(await text('tr[data-name="libx.so"]'), /19\.5 KiB/);
    await shot('files-nested');
    // The tag v1 (revision 2): before the image, so no /registry.example.org at its root.
    await page.goto(`${serve.url}/ui/#/repo/${FQRN}/files`);
    await page.waitForSelector('tr[data-name="registry.example.org"]');
    await page.selectOption('select[name="root"]', { label: 'tag v1 (revision 2)' });
    await page.waitForURL(/root=/);
    await page.locator('tr[data-name="registry.example.org"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-name="doc"]').waitFor();
    assert.deepEqual(problems, []);
  });

  it('charts storage with the numbers barge info reports', async () => {
    const info = JSON.parse(barge('info', FQRN, '--json')) as {
      revision: number;
      objects: number;
      logicalBytes: number;
    };
    // The page shows the newest sample and its revision; a publish is sampled within seconds.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await open(`#/repo/${FQRN}/storage`);
      const sampled = await text('[data-testid="dedup-latest"]');
      if (new RegExp(`revision ${info.revision}(?!\\d)`).test(sampled) || Date.now() > deadline) break;
      await page.goto('about:blank');
    }
    const digits = async (id: string) => Number((await text(`[data-testid="${id}"]`)).replace(/,/g, ''));
    assert.equal(await digits('objects'), info.objects);
    assert.equal(await digits('logical-bytes'), info.logicalBytes);
    assert.match(await text('[data-testid="dedup-latest"]'), new RegExp(`revision ${info.revision}(?!\\d)`));
    const stored = await digits('stored-bytes');
    assert.equal(await text('[data-testid="dedup-ratio"]'), `${(info.logicalBytes / stored).toFixed(2)}×`);
  });

  it('refuses an admin action without a token, and does it with an admin token', async () => {
    const pinned = () =>
      (JSON.parse(barge('uploads', 'ls', FQRN, '--json')) as { cid: string; pinned: boolean }[]).find(
        (u) => u.cid === uploadCid,
      )?.pinned;
    await open(`#/repo/${FQRN}/uploads`);
    await page.click(`tr[data-cid="${uploadCid}"] button`);
    const refusal = await text('[role="alert"]');
    assert.match(refusal, /refused: TOKEN_MISSING/);
    assert.equal(pinned(), false);
    await shot('refused');
    // The browser reports the 401 itself; nothing else may have gone wrong.
    assert.deepEqual(
      problems.filter((p) => !/status of 401/.test(p)),
      [],
    );
    problems.length = 0;

    await page.fill('input[name="token"]', adminToken);
    await page.click('form.token button');
    await page.click(`tr[data-cid="${uploadCid}"] button`);
    await page.waitForSelector('[role="status"]');
    assert.match(await text('[role="status"]'), /pinned: it never expires/);
    await page.locator(`tr[data-cid="${uploadCid}"] button:text-is("Unpin")`).waitFor();
    assert.equal(pinned(), true);
    assert.equal(await page.evaluate("sessionStorage.getItem('barge.adminToken')"), adminToken);

    await open(`#/repo/${FQRN}/gc`);
    await page.click('text=Dry run gc');
    await page.waitForSelector('[role="status"]');
    assert.match(await text('[role="status"]'), /^dry run: gc would remove \d+ revision/);

    await open(`#/repo/${FQRN}/images`);
    await page.click(`tr[data-reference="${IMAGE}"] button`);
    await page.click(`tr[data-reference="${IMAGE}"] button.danger`);
    await page.waitForSelector('[role="status"]');
    assert.match(await text('[role="status"]'), new RegExp(`removed ${IMAGE} in revision \\d+`));
    await page.locator(`tr[data-reference="${IMAGE}"]`).waitFor({ state: 'detached' });
    await shot('admin');
    assert.match(barge('images', 'ls', '--repo', FQRN), /^$/);
    assert.deepEqual(problems, []);
  });

  it('logs each request as one JSON line carrying the id the response sent', async () => {
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/ui/repositories')),
      open('#/'),
    ]);
    const id = await res.headerValue('x-request-id');
    assert.ok(id);
    await new Promise((r) => setTimeout(r, 100));
    const events = serve.events();
    const line = events.find((e) => e.event === 'http.request' && e.requestId === id);
    assert.ok(line, `a log line for request ${id}`);
    assert.equal(line.path, '/api/v1/ui/repositories');
    assert.equal(line.status, 200);
    const removed = events.find((e) => e.event === 'admin.image_removed');
    assert.ok(
      removed && typeof removed.requestId === 'string',
      'the admin action is logged with its request id',
    );
    assert.equal(removed.reference, IMAGE);
    assert.ok(
      events.some((e) => e.event === 'http.request' && e.requestId === removed.requestId && e.status === 200),
      'the same id is on the request line',
    );
  });
});
