import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { decompressSync, objectPath } from '../object/index.js';
import { fixtureFile, fixtureManifest } from '../testing/fixture.js';
import { derOid, derTime, derUnsignedInteger, derUtf8String } from './der.js';
import {
  certificateCommonName,
  certificateFingerprint,
  createCertificate,
  formatFingerprint,
  loadCertificate,
  parseFingerprint,
  parseWhitelist,
} from './index.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

function fixtureCertificate(): Buffer {
  const x = fixtureManifest().get('X') as string;
  return decompressSync(fixtureFile(objectPath(x, 'X')), x);
}

describe('DER encoding', () => {
  const integers: [number[], string][] = [
    [[0], '020100'],
    [[0, 0, 5], '020105'],
    [[0x7f], '02017f'],
    [[0x80], '02020080'],
    [[0, 0x80, 1], '0203008001'],
  ];
  for (const [bytes, hex] of integers) {
    it(`encodes the integer bytes ${Buffer.from(bytes).toString('hex')} minimally`, () => {
      assert.equal(derUnsignedInteger(Uint8Array.from(bytes)).toString('hex'), hex);
    });
  }

  it('switches to long length forms at 128 and 256 bytes', () => {
    assert.equal(derUtf8String('x'.repeat(127)).subarray(0, 2).toString('hex'), '0c7f');
    assert.equal(derUtf8String('x'.repeat(128)).subarray(0, 3).toString('hex'), '0c8180');
    assert.equal(derUtf8String('x'.repeat(300)).subarray(0, 4).toString('hex'), '0c82012c');
  });

  it('encodes object identifiers with base-128 arcs', () => {
    assert.equal(derOid('1.2.840.113549.1.1.11').toString('hex'), '06092a864886f70d01010b');
    assert.equal(derOid('2.5.4.3').toString('hex'), '0603550403');
  });

  it('writes UTCTime before 2050 and GeneralizedTime from 2050 on', () => {
    assert.equal(derTime(new Date('2026-11-25T08:21:34.999Z')).toString('latin1').slice(2), '261125082134Z');
    assert.equal(derTime(new Date('2050-01-01T00:00:00Z')).toString('latin1').slice(2), '20500101000000Z');
    assert.equal(derTime(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
  });
});

describe('certificates', () => {
  it('creates a self-signed certificate Node parses and verifies with its own key', () => {
    const pem = createCertificate({
      fqrn: 'test.example.org',
      keyPem: privateKey,
      notBefore: new Date('2026-11-25T08:21:34.500Z'),
    });
    const cert = new X509Certificate(pem);
    assert.equal(cert.verify(cert.publicKey), true);
    assert.equal(cert.checkPrivateKey(privateKey), true);
    assert.equal(cert.subject, 'CN=test.example.org CernVM-FS Release Managers');
    assert.equal(cert.issuer, cert.subject);
    assert.equal(new Date(cert.validFrom).toISOString(), '2026-11-25T08:21:34.000Z');
    assert.equal(new Date(cert.validTo).toISOString(), '2027-11-25T08:21:34.000Z');
    assert.match(cert.serialNumber, /^[0-7]?[0-9A-F]{1,39}$/, 'positive, at most 159 bits');
    assert.ok(
      pem.startsWith('-----BEGIN CERTIFICATE-----\n') && pem.endsWith('\n-----END CERTIFICATE-----\n'),
    );
    assert.ok(pem.split('\n').every((line) => line.length <= 64));
  });

  it('has the shape of the fixture certificate cvmfs_server made', () => {
    const ours = new X509Certificate(createCertificate({ fqrn: 'reference.cvmfs.test', keyPem: privateKey }));
    const theirs = new X509Certificate(fixtureCertificate());
    assert.equal(ours.subject, theirs.subject);
    assert.equal(ours.issuer, theirs.issuer);
    assert.equal(ours.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    // Version 1: after the two SEQUENCE headers the TBSCertificate opens with the serial INTEGER,
    // not with an [0] version field.
    for (const cert of [ours, theirs]) assert.equal(cert.raw[8], 0x02);
  });

  it('shortens names longer than 30 characters as cvmfs_server does', () => {
    const fqrn = 'a-very-long-repository-name.example.org';
    assert.equal(
      certificateCommonName(fqrn),
      'a-very-long-repository-name.ex[...] CernVM-FS Release Managers',
    );
    assert.equal(
      new X509Certificate(createCertificate({ fqrn, keyPem: privateKey })).subject,
      `CN=${certificateCommonName(fqrn)}`,
    );
  });

  it('encodes validity past 2049 as GeneralizedTime that Node reads back', () => {
    const cert = new X509Certificate(
      createCertificate({
        fqrn: 'a.b',
        keyPem: privateKey,
        notBefore: new Date('2049-12-01T00:00:00Z'),
        days: 60,
      }),
    );
    assert.equal(new Date(cert.validTo).toISOString(), '2050-01-30T00:00:00.000Z');
    assert.equal(cert.verify(cert.publicKey), true);
  });

  it('is read by `openssl x509` as a v1 sha256WithRSAEncryption certificate', {
    skip: !hasOpenssl,
  }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-cert-'));
    try {
      const file = path.join(dir, 'test.crt');
      await writeFile(file, createCertificate({ fqrn: 'test.example.org', keyPem: privateKey }));
      const text = spawnSync('openssl', ['x509', '-in', file, '-noout', '-text']);
      assert.equal(text.status, 0, text.stderr.toString());
      assert.match(text.stdout.toString(), /Version: 1 \(0x0\)/);
      assert.match(text.stdout.toString(), /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(text.stdout.toString(), /Subject: CN = test.example.org CernVM-FS Release Managers/);
      const verify = spawnSync('openssl', ['verify', '-CAfile', file, file]);
      assert.match(verify.stdout.toString(), /: OK/, verify.stderr.toString());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad options', () => {
    assert.throws(
      () => createCertificate({ fqrn: '../x', keyPem: privateKey }),
      (err) => isBargeError(err, 'INVALID_FQRN'),
    );
    assert.throws(
      () => createCertificate({ fqrn: 'a.b', keyPem: privateKey, days: 0 }),
      (err) => isBargeError(err, 'INVALID_ARGUMENT'),
    );
  });

  it('refuses certificates that are not PEM or hold no RSA key', () => {
    const der = new X509Certificate(fixtureCertificate()).raw;
    assert.throws(
      () => loadCertificate(der),
      (err) => isBargeError(err, 'CERTIFICATE_INVALID'),
    );
    assert.throws(
      () => loadCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      (err) => isBargeError(err, 'CERTIFICATE_INVALID'),
    );
  });
});

describe('fingerprints', () => {
  it('fingerprints the fixture certificate as its whitelist lists it', () => {
    const listed = parseWhitelist(fixtureFile('.cvmfswhitelist')).fingerprints;
    assert.deepEqual(listed, [certificateFingerprint(fixtureCertificate())]);
  });

  it('matches `openssl x509 -fingerprint -sha1`', { skip: !hasOpenssl }, () => {
    const r = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha1'], {
      input: fixtureCertificate(),
    });
    assert.equal(r.stdout.toString().trim().split('=')[1], certificateFingerprint(fixtureCertificate()));
  });

  it('appends the uppercased algorithm id for other algorithms', () => {
    assert.match(
      certificateFingerprint(fixtureCertificate(), 'rmd160'),
      /^([0-9A-F]{2}:){19}[0-9A-F]{2}-RMD160$/,
    );
    const shake = certificateFingerprint(fixtureCertificate(), 'shake128');
    assert.equal(formatFingerprint(parseFingerprint(shake) as string), shake);
  });

  const lines: [string, string | undefined][] = [
    [
      'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01',
      'abcdef0123456789abcdef0123456789abcdef01',
    ],
    [
      'ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01 # old key',
      'abcdef0123456789abcdef0123456789abcdef01',
    ],
    [
      'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01-SHAKE128',
      'abcdef0123456789abcdef0123456789abcdef01-shake128',
    ],
    ['00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00', undefined],
    ['D4:1D:8C:D9:8F:00:B2:04:E9:80:09:98:EC:F8:42:7E', undefined],
    ['--', undefined],
  ];
  for (const [line, hash] of lines) {
    it(`reads the fingerprint line '${line.slice(0, 24)}…' as the client does`, () => {
      assert.equal(parseFingerprint(line), hash);
    });
  }
});
