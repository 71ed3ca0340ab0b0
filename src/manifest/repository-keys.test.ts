import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  type RepositoryKeys,
  readRepositoryKeys,
  signManifest,
  verifyManifest,
  verifyWhitelist,
  writeRepositoryKeys,
} from './index.js';

const FQRN = 'keys.example.org';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'barge-keys-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('repository keys', () => {
  let keys: RepositoryKeys;
  let other: RepositoryKeys;
  before(async () => {
    [keys, other] = await Promise.all([generateRepositoryKeys(FQRN), generateRepositoryKeys(FQRN)]);
  });

  it('generates a key set that signs a verifiable manifest and whitelist', () => {
    assert.match(keys.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(keys.masterKeyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    const cert = new X509Certificate(keys.certificatePem);
    assert.equal(cert.checkPrivateKey(createPrivateKey(keys.certificateKeyPem)), true);
    const now = new Date();
    const wl = createWhitelist(
      {
        fqrn: FQRN,
        fingerprints: [certificateFingerprint(keys.certificatePem)],
        created: now,
        expires: new Date(now.getTime() + 30 * 86_400_000),
      },
      keys.masterKeyPem,
    );
    assert.equal(verifyWhitelist(wl, { fqrn: FQRN, publicKeysPem: [keys.publicKeyPem], now }).fqrn, FQRN);
    const manifest = signManifest(
      {
        rootHash: 'a'.repeat(40),
        rootSize: 1,
        rootPathHash: 'd41d8cd98f00b204e9800998ecf8427e',
        ttl: 240,
        revision: 1,
        garbageCollectable: false,
        alternativePaths: false,
        fqrn: FQRN,
        certificate: 'b'.repeat(40),
        timestamp: 1,
        unknownKeys: {},
      },
      keys.certificateKeyPem,
    );
    assert.equal(verifyManifest(manifest, keys.certificatePem).fqrn, FQRN);
  });

  it('writes the four files cvmfs_server keeps, private ones owner-only, and reads them back', async () => {
    await withDir(async (dir) => {
      await writeRepositoryKeys(dir, FQRN, keys);
      assert.deepEqual((await readdir(dir)).sort(), [
        `${FQRN}.crt`,
        `${FQRN}.key`,
        `${FQRN}.masterkey`,
        `${FQRN}.pub`,
      ]);
      const modes = Object.fromEntries(
        await Promise.all(
          ['.masterkey', '.key', '.pub', '.crt'].map(async (s) => [
            s,
            (await stat(path.join(dir, FQRN + s))).mode & 0o777,
          ]),
        ),
      );
      assert.deepEqual(modes, { '.masterkey': 0o600, '.key': 0o600, '.pub': 0o644, '.crt': 0o644 });
      assert.deepEqual(await readRepositoryKeys(dir, FQRN), keys);
    });
  });

  it('accepts writing the same keys twice and refuses to replace different ones', async () => {
    await withDir(async (dir) => {
      await writeRepositoryKeys(dir, FQRN, keys);
      await writeRepositoryKeys(dir, FQRN, keys);
      await assert.rejects(writeRepositoryKeys(dir, FQRN, other), (err) => isBargeError(err, 'KEY_EXISTS'));
      assert.equal(await readFile(path.join(dir, `${FQRN}.masterkey`), 'utf8'), keys.masterKeyPem);
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
        [],
        'no temp files left behind',
      );
    });
  });

  it('names the missing file and what to do', async () => {
    await withDir(async (dir) => {
      await writeRepositoryKeys(dir, FQRN, keys);
      await unlink(path.join(dir, `${FQRN}.masterkey`));
      await assert.rejects(readRepositoryKeys(dir, FQRN), (err) => {
        assert.ok(isBargeError(err, 'KEY_NOT_FOUND'));
        assert.match(err.message, /keys\.example\.org\.masterkey does not exist/);
        assert.match(err.hint ?? '', /\/etc\/cvmfs\/keys/);
        return true;
      });
    });
  });

  const broken: [string, string, (k: RepositoryKeys) => string][] = [
    ['a .pub that belongs to another master key', '.pub', () => other.publicKeyPem],
    ['a .pub in PKCS#1 form', '.pub', (k) => k.publicKeyPem.replace(/PUBLIC KEY/g, 'RSA PUBLIC KEY')],
    [
      'a garbled .masterkey',
      '.masterkey',
      () => '-----BEGIN RSA PRIVATE KEY-----\nnonsense\n-----END RSA PRIVATE KEY-----\n',
    ],
    ['a .crt of another certificate key', '.crt', () => other.certificatePem],
    ['a .crt that is not a certificate', '.crt', (k) => k.publicKeyPem],
    ['a .key that is not a key', '.key', () => 'hello'],
  ];
  for (const [what, suffix, content] of broken) {
    it(`refuses ${what} as KEY_INVALID naming the file`, async () => {
      await withDir(async (dir) => {
        await writeRepositoryKeys(dir, FQRN, keys);
        await writeFile(path.join(dir, FQRN + suffix), content(keys));
        await assert.rejects(readRepositoryKeys(dir, FQRN), (err) => {
          assert.ok(isBargeError(err, 'KEY_INVALID'), String(err));
          assert.ok(err.message.includes(FQRN + suffix), err.message);
          return true;
        });
      });
    });
  }

  it('refuses a repository name that would leave the key directory', async () => {
    await withDir(async (dir) => {
      await assert.rejects(writeRepositoryKeys(dir, '../evil.org', keys), (err) =>
        isBargeError(err, 'INVALID_FQRN'),
      );
      await assert.rejects(readRepositoryKeys(dir, 'a/b.org'), (err) => isBargeError(err, 'INVALID_FQRN'));
      await assert.rejects(generateRepositoryKeys('nodot'), (err) => isBargeError(err, 'INVALID_FQRN'));
    });
  });
});
