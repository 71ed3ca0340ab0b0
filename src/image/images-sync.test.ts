import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pull } from '../client/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { diffTrees, snapshotTree } from '../testing/index.js';
import { startRegistry, type TestRegistry } from '../testing/registry.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';

const FQRN = 'unpacked.example.org';
/** What barge adds to every flat root beside the image's own files (Apptainer's, and the catalog marker). */
const SYNTHETIC =
  /^(\.cvmfscatalog|\.singularity\.d(\/.*)?|dev|proc|root|tmp|var|var\/tmp|sys|home|etc|etc\/hosts|etc\/resolv\.conf|singularity|\.run|\.exec|\.shell|\.test|environment)$/;

const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'pipe'] });

function countObjects(served: string): number {
  let n = 0;
  for (const d of readdirSync(path.join(served, 'data')))
    if (d !== 'txn') n += readdirSync(path.join(served, 'data', d)).length;
  return n;
}

describe('images: registry → repository in DUCC layout, wishlist sync', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  const layout = path.join(tmp.dir, 'layout');
  let registry: TestRegistry;

  before(async () => {
    registry = await startRegistry(path.join(tmp.dir, 'registry'));
    // A base of two layers (files over 1 KiB, so their content goes through the ingest worker
    // threads), and user images that add one small layer each on top of it. Layers are
    // made with unpack + repack: umoci 0.4.7's `insert` writes truncated layers (GNU tar agrees).
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:base`);
    const bundle = path.join(tmp.dir, 'bundle');
    umoci('unpack', '--rootless', '--image', `${layout}:base`, bundle);
    for (const [i, count] of [60, 40].entries()) {
      const dir = path.join(bundle, 'rootfs', 'usr', 'lib', `l${i}`);
      await fsp.mkdir(dir, { recursive: true });
      for (let f = 0; f < count; f++)
        await fsp.writeFile(path.join(dir, `f${f}.so`), `lib ${i}/${f}\n`.repeat(200));
      umoci('repack', '--refresh-bundle', '--image', `${layout}:base`, bundle);
    }
    for (const user of ['1', '2']) {
      umoci('tag', '--image', `${layout}:base`, `user${user}`);
      const ub = path.join(tmp.dir, `bundle-${user}`);
      umoci('unpack', '--rootless', '--image', `${layout}:user${user}`, ub);
      await fsp.mkdir(path.join(ub, 'rootfs', 'analysis'), { recursive: true });
      await fsp.writeFile(path.join(ub, 'rootfs', 'analysis', 'run.py'), `print("analysis ${user}")\n`);
      umoci('repack', '--image', `${layout}:user${user}`, ub);
      umoci(
        'config',
        '--image',
        `${layout}:user${user}`,
        '--config.cmd',
        'python3',
        '--config.cmd',
        '/analysis/run.py',
        '--config.env',
        `USER_ID=${user}`,
      );
    }
    await registry.push(layout, 'base', 'barge/base:1');
    await registry.push(layout, 'user1', 'barge/user:1');
    await registry.push(layout, 'user2', 'barge/user:2');
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
  });
  after(async () => {
    await registry?.stop();
    tmp.cleanup();
  });

  it('adds an image from the registry: flat root, relative symlink, metadata; equal to umoci unpack', async () => {
    const r = runBarge(['images', 'add', `${registry.host}/barge/base:1`, '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      status: string;
      image: { root: string; reused: string; link: string };
    };
    assert.equal(result.status, 'published');
    assert.match(result.image.root, /^\/\.flat\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    assert.equal(result.image.link, `/${registry.host}/barge/base:1`);
    assertConformant(served, pub);

    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const link = await reader.lookup(result.image.link);
    assert.equal(link?.symlink, `../..${result.image.root}`, 'a relative symlink, as DUCC writes');
    const out = path.join(tmp.dir, 'base-pulled');
    await pull(reader, out, { path: result.image.root, owners: false });
    await reader.close();
    const ref = path.join(tmp.dir, 'base-ref');
    umoci('unpack', '--rootless', '--image', `${layout}:base`, ref);
    const diff = diffTrees(await snapshotTree(path.join(ref, 'rootfs')), await snapshotTree(out), {
      skip: (p) => SYNTHETIC.test(p),
      ignore: ['directoryMtime', 'hardlinks'],
    });
    assert.deepEqual(diff, []);
    const env = readFileSync(path.join(out, '.singularity.d', 'runscript'), 'utf8');
    assert.match(env, /eval "set \$\{SINGULARITY_OCI_RUN\}"/);
  });

  it('a user image on a known base reuses the flattened base and reads only its own layer', async () => {
    const before = countObjects(served);
    const r = runBarge(['images', 'add', `${registry.host}/barge/user:1`, '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { image: { reused: string; baseLayers: number; root: string } };
    assert.equal(result.image.reused, 'base');
    assert.equal(result.image.baseLayers, 2);
    // New objects: its layer's file, its env/runscript, catalogs, metadata; not the base's 100 files.
    assert.ok(countObjects(served) - before < 20, `${countObjects(served) - before} new objects`);
    assertConformant(served, pub);
    // The reused base plus its own layer equals what umoci unpacks for the user image.
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const out = path.join(tmp.dir, 'user1-pulled');
    await pull(reader, out, { path: result.image.root, owners: false });
    await reader.close();
    const ref = path.join(tmp.dir, 'user1-ref');
    umoci('unpack', '--rootless', '--image', `${layout}:user1`, ref);
    const diff = diffTrees(await snapshotTree(path.join(ref, 'rootfs')), await snapshotTree(out), {
      skip: (p) => SYNTHETIC.test(p),
      ignore: ['directoryMtime', 'hardlinks'],
    });
    assert.deepEqual(diff, []);
    assert.match(
      readFileSync(path.join(out, '.singularity.d', 'env', '10-docker2singularity.sh'), 'utf8'),
      /USER_ID/,
    );
  });

  it('syncs a DUCC wishlist with a wildcard tag; a second sync publishes nothing', async () => {
    const wishlist = path.join(tmp.dir, 'wishlist.yaml');
    await fsp.writeFile(
      wishlist,
      [
        'version: 1',
        'user: barge',
        `cvmfs_repo: ${FQRN}`,
        'input:',
        `  - 'https://${registry.host}/barge/base:1'`,
        `  - '${registry.host}/barge/user:*'`,
        `  - '${registry.host}/barge/missing:1'`,
        '',
      ].join('\n'),
    );
    const first = runBarge(['images', 'sync', wishlist, '--data', data]);
    assert.equal(first.status, 1, 'one image failed, so the sync says so');
    assert.match(first.stdout, /unchanged +[^\n]*barge\/base:1/);
    assert.match(first.stdout, /unchanged +[^\n]*barge\/user:1/);
    assert.match(first.stdout, /published +[^\n]*barge\/user:2/);
    assert.match(first.stdout, /FAILED +[^\n]*barge\/missing:1: REGISTRY_NOT_FOUND/);
    assert.match(first.stdout, /sync: 1 published, 2 unchanged, 0 removed, 1 failed/);
    const manifest = readFileSync(path.join(served, '.cvmfspublished'));
    const second = runBarge(['images', 'sync', wishlist, '--data', data]);
    assert.match(second.stdout, /sync: 0 published, 3 unchanged, 0 removed, 1 failed/);
    assert.deepEqual(readFileSync(path.join(served, '.cvmfspublished')), manifest, 'no new revision');
    const ls = JSON.parse(runBarge(['images', 'ls', '--data', data, '--json']).stdout) as {
      reference: string;
      files: number;
    }[];
    assert.deepEqual(
      ls.map((i) => i.reference),
      [`${registry.host}/barge/base:1`, `${registry.host}/barge/user:1`, `${registry.host}/barge/user:2`],
    );
    assert.ok(ls.every((i) => i.files >= 100));
    assertConformant(served, pub);
  });

  it('a multi-arch image: one flat root per platform, .multiarch links, aliases, a $(CVMFS_ARCH) variant symlink', async () => {
    const ma = path.join(tmp.dir, 'multiarch');
    umoci('init', '--layout', ma);
    const manifests: Record<string, unknown>[] = [];
    for (const arch of ['amd64', 'arm64']) {
      umoci('new', '--image', `${ma}:${arch}`);
      umoci('config', '--image', `${ma}:${arch}`, '--architecture', arch, '--os', 'linux');
      const b = path.join(tmp.dir, `ma-${arch}`);
      umoci('unpack', '--rootless', '--image', `${ma}:${arch}`, b);
      await fsp.mkdir(path.join(b, 'rootfs', 'etc'), { recursive: true });
      await fsp.writeFile(path.join(b, 'rootfs', 'etc', 'arch'), `${arch}\n`);
      umoci('repack', '--image', `${ma}:${arch}`, b);
      const index = JSON.parse(readFileSync(path.join(ma, 'index.json'), 'utf8')) as {
        manifests: Record<string, unknown>[];
      };
      const entry = index.manifests.find(
        (m) => (m.annotations as Record<string, string>)['org.opencontainers.image.ref.name'] === arch,
      );
      manifests.push({
        mediaType: entry?.mediaType,
        digest: entry?.digest,
        size: entry?.size,
        platform: { os: 'linux', architecture: arch },
      });
    }
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
    );
    const hex = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
    await fsp.writeFile(path.join(ma, 'blobs', 'sha256', hex), body);
    const top = JSON.parse(readFileSync(path.join(ma, 'index.json'), 'utf8')) as {
      manifests: Record<string, unknown>[];
    };
    top.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${hex}`,
      size: body.length,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });
    await fsp.writeFile(path.join(ma, 'index.json'), JSON.stringify(top));
    await registry.push(ma, 'multi', 'barge/multi:1', { all: true });

    const r = runBarge(['images', 'add', `${registry.host}/barge/multi:1`, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
    assertConformant(served, pub);
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    const name = `/${registry.host}/barge/multi:1`;
    assert.equal((await reader.lookup(name))?.symlink, `../../.multiarch/$(CVMFS_ARCH:-amd64)${name}`);
    for (const arch of ['amd64', 'arm64']) {
      const link = await reader.lookup(`/.multiarch/${arch}${name}`);
      assert.match(link?.symlink ?? '', /^(\.\.\/){4}\.flat\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
      const root = path.posix.join(`/.multiarch/${arch}/${registry.host}/barge`, link?.symlink as string);
      const file = await reader.lookup(`${root}/etc/arch`);
      assert.equal(file?.size, arch.length + 1, `the ${arch} root holds its own files`);
    }
    assert.equal((await reader.lookup('/.multiarch/x86_64'))?.symlink, 'amd64');
    assert.equal((await reader.lookup('/.multiarch/aarch64'))?.symlink, 'arm64');
    await reader.close();
    assert.match(
      runBarge(['images', 'add', `${registry.host}/barge/multi:1`, '--data', data]).stdout,
      /unchanged/,
    );
  });

  it('images rm removes the tag symlink only: other images intact, nothing deleted from storage', async () => {
    const before = countObjects(served);
    const r = runBarge(['images', 'rm', `${registry.host}/barge/user:2`, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(countObjects(served) - before > 0, true, 'a new revision adds catalogs; nothing is removed');
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    assert.equal(await reader.lookup(`/${registry.host}/barge/user:2`), undefined);
    assert.ok(await reader.lookup(`/${registry.host}/barge/user:1`));
    await reader.close();
    assert.match(
      runBarge(['images', 'rm', `${registry.host}/barge/user:2`, '--data', data]).stderr,
      /IMAGE_NOT_FOUND/,
    );
    assertConformant(served, pub);
  });

  it('a registry with basic auth refuses without credentials and accepts them from the environment', async () => {
    const secured = await startRegistry(path.join(tmp.dir, 'secured'), { auth: 'basic' });
    try {
      await secured.push(layout, 'base', 'private/base:1');
      const denied = runBarge(['images', 'add', `${secured.host}/private/base:1`, '--data', data]);
      assert.equal(denied.status, 1);
      assert.match(denied.stderr, /REGISTRY_UNAUTHORIZED/);
      const user = secured.users[0] as { username: string; password: string };
      const variable = `BARGE_REGISTRY_AUTH_${secured.host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
      const ok = runBarge(['images', 'add', `${secured.host}/private/base:1`, '--data', data, '--json'], {
        [variable]: `${user.username}:${user.password}`,
      });
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(
        (JSON.parse(ok.stdout) as { image: { reused: string } }).image.reused,
        'present',
        'same config digest as barge/base:1',
      );
      assert.doesNotMatch(ok.stdout + ok.stderr, new RegExp(user.password));
    } finally {
      await secured.stop();
    }
  });
});
