import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSource, RepositoryReader } from '../repository/index.js';
import { createRouter, type RunningServer, startServer } from '../server/index.js';
import { assertConformant } from '../testing/conformance.js';
import { startRegistry, type TestRegistry } from '../testing/registry.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { addUploadRoutes } from './api-routes.js';
import { TokenStore } from './token-store.js';
import { UploadService } from './upload-service.js';

const FQRN = 'atlasuser.example.org';
const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'pipe'] });

describe('user containers: POST /api/v1/images ingests an image built on an experiment base', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  const layout = path.join(tmp.dir, 'layout');
  let registry: TestRegistry;
  let service: UploadService;
  let tokens: TokenStore;
  let server: RunningServer;
  let token: string;

  const post = async (body: unknown, auth = token) => {
    const r = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };

  before(async () => {
    registry = await startRegistry(path.join(tmp.dir, 'registry'));
    // The experiment base: 300 library files of 4 KiB; the user image adds one small layer.
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:base`);
    const bundle = path.join(tmp.dir, 'bundle');
    umoci('unpack', '--rootless', '--image', `${layout}:base`, bundle);
    const lib = path.join(bundle, 'rootfs', 'opt', 'atlas', 'lib');
    await fsp.mkdir(lib, { recursive: true });
    for (let f = 0; f < 300; f++) {
      await fsp.writeFile(path.join(lib, `libAthena${f}.so`), `symbol table ${f}\n`.repeat(256));
    }
    umoci('repack', '--refresh-bundle', '--image', `${layout}:base`, bundle);
    umoci('tag', '--image', `${layout}:base`, 'ana');
    const ub = path.join(tmp.dir, 'bundle-ana');
    umoci('unpack', '--rootless', '--image', `${layout}:ana`, ub);
    await fsp.mkdir(path.join(ub, 'rootfs', 'analysis'), { recursive: true });
    await fsp.writeFile(path.join(ub, 'rootfs', 'analysis', 'run.py'), 'print("my analysis")\n');
    umoci('repack', '--image', `${layout}:ana`, ub);
    await registry.push(layout, 'base', 'atlas/athena:24.0');
    await registry.push(layout, 'ana', 'user/jdoe/ana:v1');

    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    assert.equal(runBarge(['uploads', 'enable', FQRN, '--data', data]).status, 0);
    tokens = new TokenStore(data);
    token = tokens.create({ group: 'atlas' }).token;
    service = await UploadService.open({ dataDir: data });
    const router = addUploadRoutes(createRouter({ dataDir: data }), { service, tokens });
    server = await startServer({ dataDir: data, listen: '127.0.0.1:0' }, router);
  });
  after(async () => {
    await server?.close();
    await service?.close();
    tokens?.close();
    await registry?.stop();
    tmp.cleanup();
  });

  it('publishes the base, then the user container reusing it, and reports the bytes it added', async () => {
    const base = await post({ image: `${registry.host}/atlas/athena:24.0` });
    assert.equal(base.status, 201, JSON.stringify(base.json));
    assert.equal(base.json.reused, 'none');
    const user = await post({ image: `${registry.host}/user/jdoe/ana:v1` });
    assert.equal(user.status, 201, JSON.stringify(user.json));
    assert.equal(user.json.reused, 'base', 'the user image reuses the flattened base');
    assert.equal(user.json.repository, FQRN);
    const baseAdded = base.json.addedBytes as number;
    const userAdded = user.json.addedBytes as number;
    assert.ok(baseAdded > 10_000, `base added ${baseAdded} bytes`);
    // Its own layer, metadata and Apptainer files: a small fraction of the base.
    assert.ok(userAdded < baseAdded / 5, `user added ${userAdded} bytes against the base's ${baseAdded}`);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const link = await reader.lookup(`/${registry.host}/user/jdoe/ana:v1`);
    assert.ok(link?.symlink, 'the user-facing symlink');
    const root = `/${link.symlink.replace(/^(\.\.\/)+/, '')}`;
    assert.ok(await reader.lookup(`${root}/analysis/run.py`));
    assert.ok(await reader.lookup(`${root}/opt/atlas/lib/libAthena299.so`));
    await reader.close();
    // The same image again publishes nothing.
    const again = await post({ image: `${registry.host}/user/jdoe/ana:v1` });
    assert.equal(again.status, 200);
    assert.equal(again.json.status, 'unchanged');
    assertConformant(served, pub);
  });

  it('refuses local image sources, unknown repositories and requests without a token', async () => {
    for (const image of [`oci:${layout}:base`, '/etc/passwd', 'docker-archive:/tmp/x.tar', '']) {
      const r = await post({ image });
      assert.equal(r.status, 400, `${image}: ${JSON.stringify(r.json)}`);
    }
    const other = await post({ image: `${registry.host}/user/jdoe/ana:v1`, repository: 'other.example.org' });
    assert.equal(other.status, 404);
    const anonymous = await fetch(`${server.url}/api/v1/images`, { method: 'POST', body: '{}' });
    assert.equal(anonymous.status, 401);
  });
});
