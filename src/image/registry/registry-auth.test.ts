import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { buildOciLayout, startRegistry, type TestRegistry } from '../../testing/registry.js';
import { tempDir } from '../../testing/temp-dir.js';
import { credentialsVariable } from './credentials.js';
import { startForwardProxy } from './fault-proxy.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';

const tmp = tempDir('barge-registry-auth-');
const USER = { username: 'barge', password: 's3cret-pass' };
const running: TestRegistry[] = [];
let layout: string;

before(() => {
  layout = path.join(tmp.dir, 'layout');
  buildOciLayout(layout, [{ tag: 'img', layers: [{ 'etc/motd': 'authenticated\n' }] }]);
});

after(async () => {
  for (const registry of running) await registry.stop();
  tmp.cleanup();
});

async function registryWith(
  name: string,
  options: Parameters<typeof startRegistry>[1],
): Promise<TestRegistry> {
  const registry = await startRegistry(path.join(tmp.dir, name), { users: [USER], ...options });
  running.push(registry);
  await registry.push(layout, 'img', 'team/app:1.0');
  return registry;
}

/** Runs `body` with a client that is closed afterwards; no credentials unless given. */
async function withClient<T>(
  options: RegistryClientOptions,
  body: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = new RegistryClient({ env: {}, dockerConfig: false, backoffMs: 10, ...options });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** True when no message, hint or detail of `err` contains the password. */
function keepsSecret(err: unknown, secret: string): boolean {
  const e = err as { message: string; hint?: string; details?: unknown };
  return !JSON.stringify([e.message, e.hint, e.details]).includes(secret);
}

describe('basic auth (htpasswd)', () => {
  let registry: TestRegistry;
  let ref: string;
  before(async () => {
    registry = await registryWith('basic', { auth: 'basic' });
    ref = `${registry.host}/team/app:1.0`;
  });

  it('refuses anonymous access with REGISTRY_UNAUTHORIZED and says where credentials go', async () => {
    await withClient({}, (client) =>
      assert.rejects(
        client.resolve(ref),
        (err) =>
          isBargeError(err, 'REGISTRY_UNAUTHORIZED') &&
          err.message.includes(registry.host) &&
          err.message.includes('anonymously') &&
          (err.hint ?? '').includes(credentialsVariable(registry.host)),
      ),
    );
  });

  it('refuses a wrong password without repeating it', async () => {
    const credentials = { [registry.host]: { username: 'barge', password: 'wrong-pass-42' } };
    await withClient({ credentials }, (client) =>
      assert.rejects(
        client.resolve(ref),
        (err) =>
          isBargeError(err, 'REGISTRY_UNAUTHORIZED') &&
          err.message.includes('as user barge') &&
          keepsSecret(err, 'wrong-pass-42'),
      ),
    );
  });

  it('pulls with credentials from options, the environment or a docker config.json', async () => {
    const fromOptions = await withClient({ credentials: { [registry.host]: USER } }, (c) => c.resolve(ref));
    assert.equal(fromOptions.layers.length, 1);
    const env = { [credentialsVariable(registry.host)]: `${USER.username}:${USER.password}` };
    assert.equal(
      (await withClient({ env }, (c) => c.resolve(ref))).manifestDigest,
      fromOptions.manifestDigest,
    );
    const file = path.join(tmp.dir, 'config.json');
    const auth = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
    writeFileSync(file, JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }));
    assert.equal(
      (await withClient({ dockerConfig: file }, (c) => c.resolve(ref))).manifestDigest,
      fromOptions.manifestDigest,
    );
  });
});

describe('bearer token flow', () => {
  let registry: TestRegistry;
  let ref: string;
  before(async () => {
    registry = await registryWith('token', { auth: 'token' });
    ref = `${registry.host}/team/app:1.0`;
  });

  it('fetches a token with the credentials, then reuses it for the same scope', async () => {
    await withClient({ credentials: { [registry.host]: USER } }, async (client) => {
      const before = registry.tokenRequests.length;
      const image = await client.resolve(ref);
      assert.equal(image.layers.length, 1);
      const fetched = registry.tokenRequests.slice(before);
      assert.equal(fetched.length, 1);
      assert.deepEqual(fetched[0], {
        user: 'barge',
        service: 'barge-test-registry',
        scopes: ['repository:team/app:pull'],
        status: 200,
      });
      await client.resolve(ref);
      await client.listTags(ref);
      assert.equal(registry.tokenRequests.length, before + 1, 'the cached token serves later requests');
    });
  });

  it('refuses wrong credentials at the token service', async () => {
    const credentials = { [registry.host]: { username: 'barge', password: 'not-the-password' } };
    await withClient({ credentials }, (client) =>
      assert.rejects(
        client.resolve(ref),
        (err) =>
          isBargeError(err, 'REGISTRY_UNAUTHORIZED') &&
          err.message.includes('token service') &&
          keepsSecret(err, 'not-the-password'),
      ),
    );
  });

  it('refuses anonymous access when the token grants nothing', async () => {
    await withClient({}, (client) =>
      assert.rejects(client.resolve(ref), (err) => isBargeError(err, 'REGISTRY_UNAUTHORIZED')),
    );
  });

  it('pulls anonymously where the token service grants public pulls (as Docker Hub does)', async () => {
    const open = await registryWith('token-public', { auth: 'token', anonymousPull: true });
    const image = await withClient({}, (client) => client.resolve(`${open.host}/team/app:1.0`));
    assert.equal(image.layers.length, 1);
    assert.equal(open.tokenRequests.at(-1)?.user, undefined);
  });
});

describe('TLS and HTTP proxies', () => {
  it('reaches an https registry through a CONNECT tunnel of the proxy', async () => {
    const registry = await registryWith('tls', { auth: 'basic', tls: true });
    const proxy = await startForwardProxy();
    try {
      const options = {
        credentials: { [registry.host]: USER },
        ca: registry.caCert ?? '',
        loopbackHttp: false,
        proxy: proxy.url,
      };
      const image = await withClient(options, (client) => client.resolve(`${registry.host}/team/app:1.0`));
      assert.equal(image.layers.length, 1);
      assert.ok(proxy.seen.includes(`CONNECT ${registry.host}`), proxy.seen.join('\n'));
      assert.ok(
        proxy.seen.every((s) => s.startsWith('CONNECT ')),
        'nothing went through in clear text',
      );

      await withClient({ ...options, ca: undefined, proxy: false }, (client) =>
        assert.rejects(
          client.resolve(`${registry.host}/team/app:1.0`),
          (err) => isBargeError(err, 'REGISTRY_UNAVAILABLE') && err.message.includes('certificate'),
        ),
      );
    } finally {
      await proxy.stop();
    }
  });

  it('sends plain http requests to the proxy with absolute URIs', async () => {
    const registry = await registryWith('plain', {});
    const proxy = await startForwardProxy();
    try {
      await withClient({ proxy: proxy.url }, (client) => client.resolve(`${registry.host}/team/app:1.0`));
      assert.ok(
        proxy.seen.includes(`http://${registry.host}/v2/team/app/manifests/1.0`),
        proxy.seen.join('\n'),
      );
    } finally {
      await proxy.stop();
    }
  });
});
