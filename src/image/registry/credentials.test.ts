import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { tempDir } from '../../testing/temp-dir.js';
import { CredentialStore, credentialsVariable } from './credentials.js';

const tmp = tempDir('barge-credentials-');
after(() => tmp.cleanup());

function configFile(name: string, content: unknown): string {
  const file = path.join(tmp.dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('CredentialStore', () => {
  it('names the environment variable after the host', () => {
    assert.equal(credentialsVariable('ghcr.io'), 'BARGE_REGISTRY_AUTH_GHCR_IO');
    assert.equal(credentialsVariable('127.0.0.1:5000'), 'BARGE_REGISTRY_AUTH_127_0_0_1_5000');
  });

  it('reads docker login entries, Docker Hub under all its names', () => {
    const file = configFile('config.json', {
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'ghcr.io': { username: 'gh', password: 'ghp_token' },
        'http://127.0.0.1:5000/v2/': { auth: b64('local:pw') },
      },
      credsStore: 'desktop',
    });
    const store = new CredentialStore({ env: {}, dockerConfig: file });
    assert.deepEqual(store.lookup('registry-1.docker.io'), { username: 'hubuser', password: 'hub:pass' });
    assert.deepEqual(store.lookup('ghcr.io'), { username: 'gh', password: 'ghp_token' });
    assert.deepEqual(store.lookup('127.0.0.1:5000'), { username: 'local', password: 'pw' });
    assert.equal(store.lookup('quay.io'), undefined);
  });

  it('prefers options over the environment over the file', () => {
    const file = configFile('order.json', { auths: { 'ghcr.io': { auth: b64('file:1') } } });
    const env = { BARGE_REGISTRY_AUTH_GHCR_IO: 'env:2' };
    assert.equal(new CredentialStore({ env, dockerConfig: file }).lookup('ghcr.io')?.username, 'env');
    const given = { credentials: { 'ghcr.io': { username: 'opt', password: '3' } } };
    assert.equal(
      new CredentialStore({ env, dockerConfig: file, ...given }).lookup('ghcr.io')?.username,
      'opt',
    );
    assert.equal(new CredentialStore({ env: {}, dockerConfig: file }).lookup('ghcr.io')?.username, 'file');
  });

  it('finds the file through BARGE_REGISTRY_AUTH_FILE and DOCKER_CONFIG', () => {
    const file = configFile('named.json', { auths: { 'ghcr.io': { auth: b64('named:1') } } });
    assert.equal(
      new CredentialStore({ env: { BARGE_REGISTRY_AUTH_FILE: file } }).lookup('ghcr.io')?.username,
      'named',
    );
    configFile('config.json', { auths: { 'quay.io': { auth: b64('dc:1') } } });
    assert.equal(new CredentialStore({ env: { DOCKER_CONFIG: tmp.dir } }).lookup('quay.io')?.username, 'dc');
    assert.equal(
      new CredentialStore({ env: { HOME: path.join(tmp.dir, 'nohome') } }).lookup('quay.io'),
      undefined,
    );
  });

  it('refuses a malformed value without repeating the secret', () => {
    const env = { BARGE_REGISTRY_AUTH_GHCR_IO: 'only-a-secret-token' };
    assert.throws(
      () => new CredentialStore({ env }).lookup('ghcr.io'),
      (err) =>
        isBargeError(err, 'REGISTRY_CREDENTIALS_INVALID') &&
        !JSON.stringify({ m: err.message, h: err.hint, d: err.details }).includes('only-a-secret-token'),
    );
  });

  it('refuses a named file that is missing or not JSON', () => {
    for (const file of [path.join(tmp.dir, 'missing.json'), configFile('bad.json', '{nope')]) {
      assert.throws(
        () => new CredentialStore({ env: {}, dockerConfig: file }).lookup('ghcr.io'),
        (err) => isBargeError(err, 'REGISTRY_CREDENTIALS_INVALID') && err.message.includes(file),
      );
    }
  });
});
