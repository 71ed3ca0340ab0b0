import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifest } from '../manifest/index.js';
import { objectPath } from '../object/index.js';
import { repositoryPaths } from '../repository/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { replicate } from './index.js';
import {
  BargeSource,
  conformant,
  corruptObjects,
  type LoggedServer,
  serveLogged,
} from './replica-test-support.js';

const FQRN = 'corrupt.example.org';

/** What the proxy does to one key: flip a byte of the body (every time or once), or answer 500. */
type Damage = { key: string; how: 'flip' | 'flip-once' | 'fail' };

/**
 * An HTTP proxy between the replica and its source (HttpSource sends it absolute-form requests,
 * as to Squid) that damages the answer for one key: the bytes in transit a replica must refuse.
 */
async function damagingProxy(): Promise<{ url: string; damage: Damage | undefined; close(): Promise<void> }> {
  const state: { damage: Damage | undefined; done: boolean } = { damage: undefined, done: false };
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    const key = target.pathname.replace(/^\/cvmfs\/[^/]+\//, '');
    const damage = state.damage?.key === key ? state.damage : undefined;
    if (damage?.how === 'fail') {
      res.writeHead(500).end('injected failure\n');
      return;
    }
    http
      .get(target, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (damage && up.statusCode === 200 && !(damage.how === 'flip-once' && state.done)) {
            state.done = true;
            const at = Math.floor(body.length / 2);
            body[at] = (body[at] as number) ^ 0x20;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
        });
      })
      .on('error', () => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get damage() {
      return state.damage;
    },
    set damage(d: Damage | undefined) {
      state.damage = d;
      state.done = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Security regression: bytes damaged between the source and the replica (a bad proxy, a flipped
 * bit) are refused whatever they are (file object, nested catalog, certificate, manifest), and so
 * is a source that fails mid-snapshot: the replica keeps serving its previous snapshot, and no
 * damaged byte is ever stored. A body damaged once is fetched again.
 */
describe('replicate refuses what was damaged in transit', () => {
  const tmp = tempDir();
  const tree = path.join(tmp.dir, 'tree');
  const replicaData = path.join(tmp.dir, 'replica');
  const served = repositoryPaths(replicaData, FQRN).served;
  let source: BargeSource;
  let server: LoggedServer;
  let proxy: Awaited<ReturnType<typeof damagingProxy>>;
  let url: string;
  let previous: Buffer;
  const targets = new Map<string, string>();
  const snapshot = () =>
    replicate({
      source: url,
      fqrn: FQRN,
      publicKeysPem: [source.publicKeyPem],
      dataDir: replicaData,
      parallel: 4,
      http: { proxy: proxy.url, retries: 1, backoffMs: 10 },
    });

  before(async () => {
    await fsp.mkdir(path.join(tree, 'old'), { recursive: true });
    for (let i = 0; i < 10; i++) await fsp.writeFile(path.join(tree, 'old', `f${i}`), randomBytes(3000));
    source = await BargeSource.create(path.join(tmp.dir, 'source'), FQRN);
    await source.publish(tree);
    server = await serveLogged(source.data);
    url = `${server.url}/cvmfs/${FQRN}`;
    proxy = await damagingProxy();
    await snapshot();
    previous = readFileSync(path.join(served, '.cvmfspublished'));

    // Revision 3: a new nested catalog holding a new file.
    await fsp.mkdir(path.join(tree, 'new'));
    await fsp.writeFile(path.join(tree, 'new', '.cvmfscatalog'), '');
    const content = randomBytes(20_000);
    await fsp.writeFile(path.join(tree, 'new', 'file.bin'), content);
    const before = await source.objectKeys();
    await source.publish(tree);
    const manifest = parseManifest(readFileSync(path.join(source.served, '.cvmfspublished')));
    const added = [...(await source.objectKeys())].filter((k) => !before.has(k));
    const root = objectPath(manifest.rootHash, 'C');
    targets.set('a nested catalog', added.find((k) => k.endsWith('C') && k !== root) as string);
    targets.set('a file object', added.find((k) => /^data\/[0-9a-f]{2}\/[0-9a-f]{38}$/.test(k)) as string);
    targets.set('the certificate', objectPath(manifest.certificate, 'X'));
    targets.set('the manifest', '.cvmfspublished');
    for (const [what, key] of targets) assert.ok(key, what);
  });
  after(async () => {
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  const cases: { what: string; how: Damage['how']; code: RegExp }[] = [
    { what: 'a file object', how: 'flip', code: /^OBJECT_CORRUPT$/ },
    { what: 'a nested catalog', how: 'flip', code: /^OBJECT_CORRUPT$/ },
    { what: 'the certificate', how: 'flip', code: /^OBJECT_CORRUPT$/ },
    { what: 'the manifest', how: 'flip', code: /^(SIGNATURE_INVALID|MANIFEST_INVALID)$/ },
    { what: 'a file object', how: 'fail', code: /^FETCH_FAILED$/ },
  ];
  for (const c of cases) {
    const verb = c.how === 'fail' ? 'the source fails to send' : 'damaged in transit';
    it(`refuses ${c.what} ${verb} (${c.code.source}), keeps the previous snapshot, stores nothing damaged`, async () => {
      const key = targets.get(c.what) as string;
      proxy.damage = { key, how: c.how };
      const held = existsSync(path.join(served, key));
      await assert.rejects(snapshot(), (err: { code?: string }) => c.code.test(err.code ?? ''));
      assert.deepEqual(readFileSync(path.join(served, '.cvmfspublished')), previous, 'the previous manifest');
      // The certificate is the same as the previous revision's: held already, and left intact.
      if (key.startsWith('data/') && !held)
        assert.equal(existsSync(path.join(served, key)), false, `${key} stored`);
      assert.deepEqual(await corruptObjects(served), []);
      assert.deepEqual(await fsp.readdir(path.join(served, 'data', 'txn')), [], 'no staging leftovers');
    });
  }

  it('still serves a whole previous revision after the refused snapshots', async () => {
    proxy.damage = undefined;
    await conformant(served, source.pub);
  });

  it('fetches a body damaged once again, and completes the snapshot', async () => {
    proxy.damage = { key: targets.get('a file object') as string, how: 'flip-once' };
    const r = await snapshot();
    assert.equal(r.revision, 3);
    assert.deepEqual(await corruptObjects(served), []);
    await conformant(served, source.pub);
  });
});
