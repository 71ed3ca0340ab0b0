import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { decompressSync, hashBytes, objectPath } from '../object/index.js';
import { fixtureFile, fixtureManifest } from '../testing/fixture.js';
import {
  generateRepositoryKeys,
  type Manifest,
  type RepositoryKeys,
  ROOT_PATH_MD5,
  signManifest,
  verifyManifest,
} from './index.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function fixtureCertificate(): Buffer {
  const x = fixtureManifest().get('X') as string;
  return decompressSync(fixtureFile(objectPath(x, 'X')), x);
}

const manifest: Manifest = {
  rootHash: 'a'.repeat(40),
  rootSize: 4096,
  rootPathHash: ROOT_PATH_MD5,
  ttl: 240,
  revision: 7,
  garbageCollectable: false,
  alternativePaths: false,
  fqrn: 'test.example.org',
  certificate: 'b'.repeat(40),
  timestamp: 1_800_000_000,
  unknownKeys: {},
};

/** Replaces the first occurrence of `from` in `bytes` by `to` (same length). */
function patch(bytes: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(bytes);
  const at = out.indexOf(from);
  assert.ok(at >= 0, `'${from}' not found`);
  out.write(to, at, 'latin1');
  return out;
}

describe('manifest signatures', () => {
  let keys: RepositoryKeys;
  let other: RepositoryKeys;
  before(async () => {
    [keys, other] = await Promise.all([
      generateRepositoryKeys('test.example.org'),
      generateRepositoryKeys('test.example.org'),
    ]);
  });

  it('verifies the fixture manifest with the certificate its X line names', () => {
    const m = verifyManifest(fixtureFile('.cvmfspublished'), fixtureCertificate());
    assert.equal(m.revision, 3);
  });

  it('signs a manifest that verifies and reads back unchanged', () => {
    const signed = signManifest(manifest, keys.certificateKeyPem);
    assert.deepEqual(verifyManifest(signed, keys.certificatePem), manifest);
    const text = signed.toString('latin1');
    const hashLine = text.slice(text.indexOf('\n--\n') + 4).split('\n')[0] as string;
    assert.equal(hashLine, hashBytes(signed.subarray(0, text.indexOf('\n--\n') + 1), 'sha1'));
    // signature = modulus size, to the end of the file, no newline after it
    assert.equal(signed.length - (text.indexOf('\n--\n') + 4 + hashLine.length + 1), 256);
  });

  it('hashes the body with the algorithm of the root catalog hash', () => {
    const shake: Manifest = { ...manifest, rootHash: `${'c'.repeat(40)}-shake128` };
    const signed = signManifest(shake, keys.certificateKeyPem);
    assert.match(signed.toString('latin1'), /\n--\n[0-9a-f]{40}-shake128\n/);
    assert.equal(verifyManifest(signed, keys.certificatePem).rootHash, shake.rootHash);
  });

  it('writes a signature openssl verifies as `dgst -sha1` over the hash text', {
    skip: !hasOpenssl,
  }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-manifest-'));
    try {
      const signed = signManifest(manifest, keys.certificateKeyPem);
      const text = signed.toString('latin1');
      const start = text.indexOf('\n--\n') + 4;
      const nl = text.indexOf('\n', start);
      await writeFile(path.join(dir, 'hash'), text.slice(start, nl));
      await writeFile(path.join(dir, 'sig'), signed.subarray(nl + 1));
      await writeFile(path.join(dir, 'crt'), keys.certificatePem);
      const pub = spawnSync('openssl', ['x509', '-in', path.join(dir, 'crt'), '-pubkey', '-noout']);
      await writeFile(path.join(dir, 'pub'), pub.stdout);
      const r = spawnSync('openssl', [
        'dgst',
        '-sha1',
        '-verify',
        path.join(dir, 'pub'),
        '-signature',
        path.join(dir, 'sig'),
        path.join(dir, 'hash'),
      ]);
      assert.equal(r.stdout.toString().trim(), 'Verified OK', r.stderr.toString());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const tampering: [string, (signed: Buffer) => Buffer][] = [
    ['a changed body', (s) => patch(s, 'S7\n', 'S8\n')],
    [
      'a body and hash line changed together',
      (s) => {
        const text = s.toString('latin1');
        const bodyEnd = text.indexOf('\n--\n') + 1;
        const body = Buffer.from(text.slice(0, bodyEnd).replace('S7\n', 'S8\n'), 'latin1');
        const rest = s.subarray(bodyEnd + 3 + 41);
        return Buffer.concat([body, Buffer.from(`--\n${hashBytes(body, 'sha1')}\n`), rest]);
      },
    ],
    [
      'a flipped signature byte',
      (s) => {
        const out = Buffer.from(s);
        out[out.length - 10] = (out[out.length - 10] as number) ^ 1;
        return out;
      },
    ],
    ['a newline appended after the signature', (s) => Buffer.concat([s, Buffer.from('\n')])],
    ['no signature block', (s) => s.subarray(0, s.indexOf('\n--\n') + 1)],
    ['no signature bytes', (s) => s.subarray(0, s.indexOf('\n--\n') + 4 + 41)],
  ];
  for (const [what, tamper] of tampering) {
    it(`refuses ${what} as SIGNATURE_INVALID`, () => {
      const bad = tamper(signManifest(manifest, keys.certificateKeyPem));
      assert.throws(
        () => verifyManifest(bad, keys.certificatePem),
        (err) => isBargeError(err, 'SIGNATURE_INVALID'),
      );
    });
  }

  it('refuses a manifest signed by another certificate key', () => {
    const signed = signManifest(manifest, other.certificateKeyPem);
    assert.throws(
      () => verifyManifest(signed, keys.certificatePem),
      (err) => isBargeError(err, 'SIGNATURE_INVALID'),
    );
  });

  it('refuses a certificate that is not PEM', () => {
    const signed = signManifest(manifest, keys.certificateKeyPem);
    assert.throws(
      () => verifyManifest(signed, 'garbage'),
      (err) => isBargeError(err, 'CERTIFICATE_INVALID'),
    );
  });

  const unmountable: [string, Partial<Manifest>][] = [
    ['without a repository name', { fqrn: '' }],
    ['without a publish time', { timestamp: 0 }],
    ['with a root path other than MD5("")', { rootPathHash: '0'.repeat(32) }],
  ];
  for (const [what, change] of unmountable) {
    it(`refuses to sign a manifest ${what}`, () => {
      assert.throws(
        () => signManifest({ ...manifest, ...change }, keys.certificateKeyPem),
        (err) => isBargeError(err, 'MANIFEST_INVALID'),
      );
    });
  }

  it('refuses a certificate key that is not RSA', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(
      () => signManifest(manifest, privateKey),
      (err) => isBargeError(err, 'KEY_INVALID'),
    );
  });

  it('refuses a certificate key that is not a PEM key', () => {
    assert.throws(
      () => signManifest(manifest, 'not a key'),
      (err) => isBargeError(err, 'KEY_INVALID'),
    );
  });
});
