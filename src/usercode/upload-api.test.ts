import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { pull } from '../client/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { createRouter, type RunningServer, startServer } from '../server/index.js';
import { assertConformant } from '../testing/conformance.js';
import { runBarge } from '../testing/run-barge.js';
import { buildTar, type TarMember } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { addUploadRoutes } from './api-routes.js';
import { TokenStore } from './token-store.js';
import { UploadService } from './upload-service.js';

const FQRN = 'fifeuser1.example.org';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gz = (members: TarMember[]) => zlib.gzipSync(buildTar(members));

/** A small tarball like jobsub's: a run script and a data file (bzip2, as jobsub sends it). */
function jobsubTarball(tag: string): Buffer {
  const tar = buildTar([
    { name: 'bin/', type: '5', mode: 0o755 },
    { name: 'bin/run.sh', mode: 0o755, content: `#!/bin/sh\necho ${tag}\n` },
    { name: 'data/params.json', mode: 0o644, content: JSON.stringify({ tag }) },
  ]);
  return execFileSync('bzip2', ['-c'], { input: tar });
}

describe('user code API: cvmfs-user-pub protocol, JSON API, tokens, batching, expiry', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  let clock = Math.floor(Date.now() / 1000);
  let service: UploadService;
  let tokens: TokenStore;
  let server: RunningServer;
  let dune: string;
  let admin: string;

  const call = (
    p: string,
    init: { method?: string; token?: string; body?: Buffer; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${server.url}${p}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...init.headers },
      ...(init.body ? { body: init.body } : {}),
    });
  const text = async (p: string, init: Parameters<typeof call>[1] = {}) => {
    const r = await call(p, init);
    return { status: r.status, body: await r.text(), headers: r.headers };
  };
  const revision = async () => {
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const rev = reader.manifest.revision;
    await reader.close();
    return rev;
  };

  before(async () => {
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    const enabled = runBarge(['uploads', 'enable', FQRN, '--data', data]);
    assert.equal(enabled.status, 0, enabled.stderr);
    tokens = new TokenStore(data);
    dune = tokens.create({ group: 'dune' }).token;
    admin = tokens.create({ group: '*', scope: 'admin' }).token;
    service = await UploadService.open({ dataDir: data, now: () => clock, gatherMs: 50 });
    const router = addUploadRoutes(createRouter({ dataDir: data }), { service, tokens });
    server = await startServer({ dataDir: data, listen: '127.0.0.1:0' }, router);
  });
  after(async () => {
    await server?.close();
    await service?.close();
    tokens?.close();
    tmp.cleanup();
  });

  it('speaks cvmfs-user-pub as jobsub_lite uses it: exists MISSING, publish, exists PRESENT, readable', async () => {
    const tarball = jobsubTarball('first');
    const cid = `dune/${sha256(tarball)}`;
    const q = `cid=${encodeURIComponent(cid)}`;
    assert.deepEqual(await text('/pubapi/ping').then((r) => r.body), 'OK\n');
    assert.equal((await text('/pubapi/config')).body, `repos:${FQRN}\n`);
    const missing = await text(`/pubapi/exists?${q}`, { token: dune });
    assert.equal(missing.status, 200);
    assert.equal(missing.body, 'MISSING\n');
    const before = await revision();
    const published = await text(`/pubapi/publish?${q}`, { token: dune, body: tarball });
    assert.equal(published.status, 200, published.body);
    assert.equal(published.body, 'OK\n');
    // jobsub polls exists (on any server) until PRESENT; barge answers OK only once published.
    const present = await text(`/pubapi/exists?${q}`, { token: dune });
    const expected = `/cvmfs/${FQRN}/user/${cid}`;
    assert.equal(present.body, `PRESENT:${expected}\n`);
    assert.match(present.body, /^PRESENT:(.+)$/m, "jobsub's regex");
    assert.ok(!present.body.includes('\r'));
    assert.equal(await revision(), before + 1);
    // update: same answer; justIN's //pubapi/ and unencoded cid work too.
    assert.equal((await text(`/pubapi/update?${q}`, { token: dune })).body, `PRESENT:${expected}\n`);
    assert.equal((await text(`//pubapi/exists?cid=${cid}`, { token: dune })).body, `PRESENT:${expected}\n`);
    // Publishing it again is PRESENT and publishes nothing.
    const again = await text(`/pubapi/publish?${q}`, { token: dune, body: tarball });
    assert.equal(again.body, `PRESENT:${expected}\n`);
    assert.equal(await revision(), before + 1);

    // Readable through barge pull over HTTP, with modes, in its own nested catalog.
    const reader = await RepositoryReader.open(await openSource(`${server.url}/cvmfs/${FQRN}`), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const out = path.join(tmp.dir, 'pulled');
    await pull(reader, out, { path: `/user/${cid}`, owners: false });
    const mountpoints: string[] = [];
    for await (const c of reader.catalogTree()) mountpoints.push(c.mountpoint);
    await reader.close();
    assert.equal(readFileSync(path.join(out, 'bin', 'run.sh'), 'utf8'), '#!/bin/sh\necho first\n');
    assert.equal((await fsp.stat(path.join(out, 'bin', 'run.sh'))).mode & 0o777, 0o755);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'data', 'params.json'), 'utf8')), {
      tag: 'first',
    });
    assert.ok(mountpoints.includes(`/user/${cid}`), 'the upload is a nested catalog');
    assert.ok(mountpoints.includes('/user/dune'), 'each group is a nested catalog');
    assertConformant(served, pub);
  });

  it('refuses unknown endpoints and cids that are not <group>/<digest>', async () => {
    assert.equal((await text('/pubapi/frobnicate', { token: dune })).status, 404);
    for (const cid of [
      'dune',
      'dune/xyz',
      '../etc/abc',
      `DUNE STAR/${'a'.repeat(64)}`,
      `.x/${'a'.repeat(64)}`,
    ]) {
      const r = await text(`/pubapi/exists?cid=${encodeURIComponent(cid)}`, { token: dune });
      assert.equal(r.status, 400, `${cid}: ${r.body}`);
    }
  });

  it('refuses a tarball whose sha256 is not the one its cid names, publishing nothing', async () => {
    const tarball = jobsubTarball('liar');
    const cid = `dune/${'0'.repeat(64)}`;
    const before = await revision();
    const r = await text(`/api/v1/uploads/${cid}`, { method: 'PUT', token: dune, body: tarball });
    assert.equal(r.status, 422);
    assert.equal(JSON.parse(r.body).error.code, 'UPLOAD_DIGEST_MISMATCH');
    assert.equal(await revision(), before);
  });

  describe('auth matrix', () => {
    const tarball = gz([{ name: 'auth.txt', content: 'auth\n' }]);
    const cid = `dune/${sha256(tarball)}`;
    const q = `/pubapi/exists?cid=${encodeURIComponent(cid)}`;

    it('no token: 401 with WWW-Authenticate', async () => {
      const r = await text(q);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="barge"/);
    });
    it('bad token: 401 invalid_token', async () => {
      const r = await text(q, { token: 'barge_0123456789abcdef_notthesecretnotthesecretnotthesecret1234' });
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    });
    it('expired token: 401', async () => {
      const t = tokens.create({ group: 'dune', expiresAt: new Date(Date.now() + 1000) });
      const r0 = await text(q, { token: t.token });
      assert.equal(r0.status, 200);
      await new Promise((r) => setTimeout(r, 1100));
      const r = await text(q, { token: t.token });
      assert.equal(r.status, 401);
      assert.match(r.body, /expired/);
    });
    it('revoked token: 401', async () => {
      const t = tokens.create({ group: 'dune' });
      tokens.revoke(t.id);
      const r = await text(q, { token: t.token });
      assert.equal(r.status, 401);
      assert.match(r.body, /revoked/);
    });
    it('token of another group: 403, on pubapi and JSON API, nothing published', async () => {
      const cms = tokens.create({ group: 'cms' }).token;
      const before = await revision();
      assert.equal((await text(q, { token: cms })).status, 403);
      const put = await text(`/api/v1/uploads/${cid}`, { method: 'PUT', token: cms, body: tarball });
      assert.equal(put.status, 403);
      assert.equal(JSON.parse(put.body).error.code, 'FORBIDDEN');
      assert.equal(await revision(), before);
    });
    it('token of the right group: publishes and lists', async () => {
      const put = await text(`/api/v1/uploads/${cid}`, { method: 'PUT', token: dune, body: tarball });
      assert.equal(put.status, 201, put.body);
      const listing = JSON.parse((await text('/api/v1/uploads/dune', { token: dune })).body);
      assert.ok(listing.uploads.some((u: { cid: string }) => u.cid === cid));
      // A publish token may not pin.
      assert.equal((await text(`/api/v1/uploads/${cid}/pin`, { method: 'PUT', token: dune })).status, 403);
    });
    it('admin token: reads any group and pins', async () => {
      assert.equal((await text(q, { token: admin })).status, 200);
      const pin = await text(`/api/v1/uploads/${cid}/pin`, { method: 'PUT', token: admin });
      assert.equal(pin.status, 200, pin.body);
      assert.equal(JSON.parse(pin.body).pinned, true);
    });
  });

  it('expires unused uploads after their idle time; exists refreshes, pins keep forever', async () => {
    const mk = (tag: string) => gz([{ name: `${tag}.txt`, content: `${tag}\n` }]);
    const [used, idle, pinned] = [mk('used'), mk('idle'), mk('pinned')];
    const ids = [used, idle, pinned].map((t) => `dune/${sha256(t)}`);
    for (const [i, t] of [used, idle, pinned].entries()) {
      const r = await text(`/api/v1/uploads/${ids[i]}`, { method: 'PUT', token: dune, body: t });
      assert.equal(r.status, 201, r.body);
    }
    assert.equal((await text(`/api/v1/uploads/${ids[2]}/pin`, { method: 'PUT', token: admin })).status, 200);
    clock += 20 * 86400;
    assert.equal((await text(`/pubapi/exists?cid=${ids[0]}`, { token: dune })).status, 200);
    clock += 11 * 86400;
    const before = await revision();
    const { removed } = await service.expire(FQRN);
    const removedIds = removed.map((u) => u.cid);
    assert.ok(removedIds.includes(ids[1] as string), 'the idle upload expired');
    assert.ok(!removedIds.includes(ids[0] as string), 'exists 11 days ago refreshed it');
    assert.ok(!removedIds.includes(ids[2] as string), 'pinned');
    assert.equal(await revision(), before + 1, 'one revision for all expired uploads');
    assert.equal((await text(`/pubapi/exists?cid=${ids[1]}`, { token: dune })).body, 'MISSING\n');
    assert.match((await text(`/pubapi/exists?cid=${ids[0]}`, { token: dune })).body, /^PRESENT:/);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    assert.equal(await reader.lookup(`/user/${ids[1]}`), undefined);
    assert.ok(await reader.lookup(`/user/${ids[2]}/pinned.txt`));
    await reader.close();
    // Nothing more to expire: no revision.
    assert.equal((await service.expire(FQRN)).removed.length, 0);
    assert.equal(await revision(), before + 1);
    assertConformant(served, pub);
  });

  it('200 concurrent uploads from 20 clients: all published once, in fewer revisions than uploads', async () => {
    const before = await revision();
    const clients = Array.from({ length: 20 }, (_, c) => tokens.create({ group: `grp${c % 4}` }).token);
    const uploads = Array.from({ length: 200 }, (_, i) => {
      const group = `grp${(i % 20) % 4}`;
      const tarball = gz([
        { name: 'job/', type: '5', mode: 0o755 },
        { name: 'job/id', content: `${i}\n` },
        { name: 'job/lib.py', content: 'shared library code\n'.repeat(100) },
      ]);
      return { i, client: i % 20, cid: `${group}/${sha256(tarball)}`, tarball };
    });
    // Each client sends its 10 uploads one after the other, as a script would; 20 clients at once.
    const answers = await Promise.all(
      clients.map(async (token, c) => {
        const mine = uploads.filter((u) => u.client === c);
        const out: string[] = [];
        for (const u of mine) {
          const r = await text(`/pubapi/publish?cid=${encodeURIComponent(u.cid)}`, {
            token,
            body: u.tarball,
          });
          assert.equal(r.status, 200, r.body);
          out.push(r.body);
        }
        return out;
      }),
    );
    assert.ok(answers.flat().every((b) => b === 'OK\n'));
    const after = await revision();
    assert.ok(after - before < 200, `${after - before} revisions for 200 uploads`);
    assert.ok(after > before);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    for (const u of uploads) {
      const d = await reader.lookup(`/user/${u.cid}/job/id`);
      assert.ok(d, `${u.cid} is published`);
    }
    let count = 0;
    for (let g = 0; g < 4; g++) {
      const dir = `/user/grp${g}`;
      count += (await reader.catalogFor(dir)).list(dir).filter((d) => d.name !== '.cvmfscatalog').length;
    }
    await reader.close();
    assert.equal(count, 200, 'none lost, none duplicated');
    assertConformant(served, pub);
  });
});

describe('user code API: hostile tarballs publish nothing', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  let service: UploadService;
  let tokens: TokenStore;
  let server: RunningServer;
  let token: string;
  let manifest: Buffer;

  before(async () => {
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    assert.equal(runBarge(['uploads', 'enable', FQRN, '--data', data]).status, 0);
    tokens = new TokenStore(data);
    token = tokens.create({ group: 'atlas' }).token;
    service = await UploadService.open({ dataDir: data, gatherMs: 10 });
    const router = addUploadRoutes(createRouter({ dataDir: data }), { service, tokens });
    server = await startServer({ dataDir: data, listen: '127.0.0.1:0' }, router);
    // One good upload first, so that "unchanged" covers existing content too.
    const good = gz([{ name: 'ok.txt', content: 'fine\n' }]);
    const r = await fetch(`${server.url}/api/v1/uploads/atlas/${sha256(good)}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}` },
      body: good,
    });
    assert.equal(r.status, 201, await r.text());
    manifest = readFileSync(path.join(served, '.cvmfspublished'));
  });
  after(async () => {
    await server?.close();
    await service?.close();
    tokens?.close();
    tmp.cleanup();
  });

  /** Uploads `tarball` under its own sha256 and expects a 4xx JSON error; the repository must not change. */
  async function refused(tarball: Buffer, codes: RegExp): Promise<void> {
    const cid = `atlas/${sha256(tarball)}`;
    const r = await fetch(`${server.url}/api/v1/uploads/${cid}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}` },
      body: tarball,
    });
    const body = await r.text();
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${body}`);
    assert.match(JSON.parse(body).error.code, codes);
    assert.ok(readFileSync(path.join(served, '.cvmfspublished')).equals(manifest), 'the manifest changed');
    const exists = await fetch(`${server.url}/pubapi/exists?cid=${cid}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(await exists.text(), 'MISSING\n');
  }

  it('refuses path traversal (../)', () =>
    refused(gz([{ name: '../escape.txt', content: 'x' }]), /TAR_PATH_ESCAPE/));
  it('refuses an absolute path', () =>
    refused(gz([{ name: '/etc/cron.d/evil', content: 'x' }]), /TAR_PATH_ESCAPE|TAR_NAME_INVALID/));
  it('refuses a member through a symlinked parent', () =>
    refused(
      gz([
        { name: 'link', type: '2', linkname: '/etc' },
        { name: 'link/passwd', content: 'x' },
      ]),
      /TAR_SYMLINK_PARENT/,
    ));
  it('refuses a hard link to outside the root', () =>
    refused(
      gz([{ name: 'pw', type: '1', linkname: '../../etc/passwd' }]),
      /TAR_LINK_INVALID|TAR_PATH_ESCAPE/,
    ));
  it('refuses a device node', () =>
    refused(gz([{ name: 'dev/sda', type: '4', devmajor: 8, devminor: 0 }]), /TARBALL_UNSUPPORTED_ENTRY/));
  it('refuses a decompression bomb early', () =>
    refused(zlib.gzipSync(buildTar([{ name: 'zeros', content: Buffer.alloc(64 << 20) }])), /TARBALL_BOMB/));
  it('refuses a truncated gzip', () => {
    const whole = gz([
      { name: 'a.txt', content: 'a'.repeat(100_000) },
      { name: 'b.txt', content: 'b' },
    ]);
    return refused(whole.subarray(0, Math.floor(whole.length / 2)), /LAYER_CORRUPT|TARBALL_INVALID/);
  });
  it('refuses something that is not a tar', () =>
    refused(
      zlib.gzipSync(Buffer.from('<html>not a tarball</html>\n'.repeat(40))),
      /TARBALL_INVALID|LAYER_CORRUPT/,
    ));
  it('leaves a repository the conformance checker accepts', () => assertConformant(served, pub));
});
