import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { FIXTURE_FQRN, FIXTURE_PUB, fixtureFile } from '../testing/fixture.js';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  parseWhitelist,
  type RepositoryKeys,
  verifyWhitelist,
  type WhitelistOptions,
} from './index.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const FQRN = 'test.example.org';

describe('the fixture whitelist', () => {
  it('parses as cvmfs_server wrote it', () => {
    const wl = parseWhitelist(fixtureFile('.cvmfswhitelist'));
    assert.deepEqual(wl, {
      created: '20261125082153',
      expiry: '20361122082153',
      expires: new Date('2036-11-22T08:00:00Z'),
      fqrn: FIXTURE_FQRN,
      verifyPkcs7: false,
      verifyCaChain: false,
      fingerprints: ['86:95:F5:33:CB:80:C4:F9:E8:E5:8D:81:EB:6A:BA:28:18:12:67:CA'],
    });
  });

  it("verifies with the fixture's master public key", async () => {
    const pub = await readFile(FIXTURE_PUB, 'utf8');
    const wl = verifyWhitelist(fixtureFile('.cvmfswhitelist'), {
      fqrn: FIXTURE_FQRN,
      publicKeysPem: [pub],
      now: new Date('2026-11-25T12:00:00Z'),
    });
    assert.equal(wl.expires.toISOString(), '2036-11-22T08:00:00.000Z');
  });

  it('is expired from 08:00 UTC on its expiry day, although it says 08:21:53', async () => {
    const pub = await readFile(FIXTURE_PUB, 'utf8');
    const check = (now: string) => () =>
      verifyWhitelist(fixtureFile('.cvmfswhitelist'), {
        fqrn: FIXTURE_FQRN,
        publicKeysPem: [pub],
        now: new Date(now),
      });
    assert.doesNotThrow(check('2036-11-22T07:59:59Z'));
    assert.throws(check('2036-11-22T08:00:00Z'), (err) => isBargeError(err, 'WHITELIST_EXPIRED'));
  });
});

describe('whitelists barge signs', () => {
  let keys: RepositoryKeys;
  let other: RepositoryKeys;
  let options: WhitelistOptions;
  before(async () => {
    [keys, other] = await Promise.all([generateRepositoryKeys(FQRN), generateRepositoryKeys(FQRN)]);
    options = {
      fqrn: FQRN,
      fingerprints: [certificateFingerprint(keys.certificatePem)],
      created: new Date('2030-01-01T09:30:00Z'),
      expires: new Date('2030-01-31T09:30:00Z'),
    };
  });
  const at = (now: string) => ({ fqrn: FQRN, publicKeysPem: [keys.publicKeyPem], now: new Date(now) });

  it('writes the lines cvmfs_server writes and verifies them', () => {
    const bytes = createWhitelist(options, keys.masterKeyPem);
    const text = bytes.toString('latin1');
    assert.ok(text.startsWith(`20300101093000\nE20300131093000\nN${FQRN}\n${options.fingerprints[0]}\n--\n`));
    const wl = verifyWhitelist(bytes, at('2030-01-10T00:00:00Z'));
    assert.deepEqual(wl.fingerprints, options.fingerprints);
  });

  it('accepts a whitelist signed by any one of several master keys', () => {
    const bytes = createWhitelist(options, keys.masterKeyPem);
    const wl = verifyWhitelist(bytes, {
      ...at('2030-01-10T00:00:00Z'),
      publicKeysPem: [other.publicKeyPem, keys.publicKeyPem],
    });
    assert.equal(wl.fqrn, FQRN);
  });

  it('normalises fingerprints and keeps their algorithm id', () => {
    const shake = certificateFingerprint(keys.certificatePem, 'shake128');
    assert.match(shake, /^([0-9A-F]{2}:){19}[0-9A-F]{2}-SHAKE128$/);
    const bytes = createWhitelist(
      { ...options, fingerprints: [shake.toLowerCase(), `${options.fingerprints[0]} # comment`] },
      keys.masterKeyPem,
    );
    assert.deepEqual(verifyWhitelist(bytes, at('2030-01-10T00:00:00Z')).fingerprints, [
      shake,
      options.fingerprints[0],
    ]);
  });

  it('uses the requested hash algorithm for the hash line', () => {
    const bytes = createWhitelist({ ...options, algorithm: 'shake128' }, keys.masterKeyPem);
    assert.match(bytes.toString('latin1'), /\n--\n[0-9a-f]{40}-shake128\n/);
    assert.doesNotThrow(() => verifyWhitelist(bytes, at('2030-01-10T00:00:00Z')));
  });

  // spec §5.1: valid only while the current UTC hour is before the expiry hour.
  const expiry: [expires: string, now: string, expired: boolean][] = [
    ['2030-01-31T09:59:59Z', '2030-01-31T08:59:59Z', false],
    ['2030-01-31T09:59:59Z', '2030-01-31T09:00:00Z', true],
    ['2030-01-31T09:59:59Z', '2030-01-31T09:02:00Z', true],
    ['2030-01-31T10:00:00Z', '2030-01-31T09:59:59Z', false],
    ['2030-01-31T10:00:00Z', '2030-01-31T10:00:00Z', true],
    ['2030-01-31T10:00:00Z', '2031-01-01T00:00:00Z', true],
  ];
  for (const [expires, now, expired] of expiry) {
    it(`${expired ? 'refuses' : 'accepts'} a whitelist expiring ${expires} at ${now}`, () => {
      const bytes = createWhitelist({ ...options, expires: new Date(expires) }, keys.masterKeyPem);
      if (expired) {
        assert.throws(
          () => verifyWhitelist(bytes, at(now)),
          (err) => isBargeError(err, 'WHITELIST_EXPIRED'),
        );
      } else {
        assert.equal(
          verifyWhitelist(bytes, at(now)).expires.getTime(),
          new Date(expires.slice(0, 14) + '00:00Z').getTime(),
        );
      }
    });
  }

  it('refuses to create a whitelist that expires within the hour it is created', () => {
    assert.throws(
      () => createWhitelist({ ...options, expires: new Date('2030-01-01T09:59:00Z') }, keys.masterKeyPem),
      (err) => isBargeError(err, 'INVALID_ARGUMENT'),
    );
  });

  it('refuses a whitelist for another repository as FQRN_MISMATCH', () => {
    const bytes = createWhitelist({ ...options, fqrn: 'other.example.org' }, keys.masterKeyPem);
    assert.throws(
      () => verifyWhitelist(bytes, at('2030-01-10T00:00:00Z')),
      (err) => isBargeError(err, 'FQRN_MISMATCH'),
    );
  });

  it('refuses a whitelist signed by another master key', () => {
    const bytes = createWhitelist(options, other.masterKeyPem);
    assert.throws(
      () => verifyWhitelist(bytes, at('2030-01-10T00:00:00Z')),
      (err) => isBargeError(err, 'SIGNATURE_INVALID'),
    );
  });

  const tampering: [string, (b: Buffer) => Buffer][] = [
    [
      'an added fingerprint',
      (b) => {
        const cut = b.indexOf('--\n');
        return Buffer.concat([b.subarray(0, cut), Buffer.from(`${'AB:'.repeat(19)}AB\n`), b.subarray(cut)]);
      },
    ],
    [
      'a later expiry date',
      (b) => {
        const out = Buffer.from(b);
        out.write('E2039', 15, 'latin1');
        return out;
      },
    ],
    [
      'a flipped signature byte',
      (b) => {
        const out = Buffer.from(b);
        out[out.length - 1] = (out[out.length - 1] as number) ^ 0x80;
        return out;
      },
    ],
    ['a newline after the signature', (b) => Buffer.concat([b, Buffer.from('\n')])],
  ];
  for (const [what, tamper] of tampering) {
    it(`refuses ${what} as SIGNATURE_INVALID`, () => {
      const bytes = tamper(createWhitelist(options, keys.masterKeyPem));
      assert.throws(
        () => verifyWhitelist(bytes, at('2030-01-10T00:00:00Z')),
        (err) => isBargeError(err, 'SIGNATURE_INVALID'),
      );
    });
  }

  it('refuses a manifest-style signature (SHA-1 DigestInfo) of the hash text', () => {
    const bytes = createWhitelist(options, keys.masterKeyPem);
    const text = bytes.toString('latin1');
    const start = text.indexOf('\n--\n') + 4;
    const nl = text.indexOf('\n', start);
    const digestInfo = sign('sha1', Buffer.from(text.slice(start, nl)), keys.masterKeyPem);
    const forged = Buffer.concat([bytes.subarray(0, nl + 1), digestInfo]);
    assert.throws(
      () => verifyWhitelist(forged, at('2030-01-10T00:00:00Z')),
      (err) => isBargeError(err, 'SIGNATURE_INVALID'),
    );
  });

  const malformed: [string, string][] = [
    ['a short creation line', '2030010109300\nE20300131093000\nNtest.example.org\n--\n'],
    ['an expiry line without its letter', '20300101093000\n20300131093000\nNtest.example.org\n--\n'],
    ['an impossible expiry date', '20300101093000\nE20300231093000\nNtest.example.org\n--\n'],
    ['a name line without N', '20300101093000\nE20300131093000\ntest.example.org\n--\n'],
  ];
  for (const [what, text] of malformed) {
    it(`refuses ${what} as WHITELIST_INVALID`, () => {
      assert.throws(
        () => verifyWhitelist(Buffer.from(text), at('2030-01-10T00:00:00Z')),
        (err) => isBargeError(err, 'WHITELIST_INVALID'),
      );
    });
  }

  it('refuses a whitelist that asks for PKCS#7 verification', () => {
    const text = `20300101093000\nE20300131093000\nN${FQRN}\nVpkcs7\n${options.fingerprints[0]}\n`;
    const wl = parseWhitelist(Buffer.from(text));
    assert.equal(wl.verifyPkcs7, true);
    assert.deepEqual(wl.fingerprints, options.fingerprints);
    assert.throws(
      () => verifyWhitelist(Buffer.from(text), at('2030-01-10T00:00:00Z')),
      (err) => isBargeError(err, 'WHITELIST_INVALID'),
    );
  });

  it('skips lines that are not fingerprints, as the client does', () => {
    const text = `20300101093000\nE20300131093000\nN${FQRN}\nnot a fingerprint\n${'00:'.repeat(19)}00\n${options.fingerprints[0]}\n--\n`;
    assert.deepEqual(parseWhitelist(Buffer.from(text)).fingerprints, options.fingerprints);
  });

  it('refuses a master public key in PKCS#1 "RSA PUBLIC KEY" form, which clients cannot load', () => {
    const pkcs1 = createPublicKey(keys.publicKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    const bytes = createWhitelist(options, keys.masterKeyPem);
    assert.throws(
      () => verifyWhitelist(bytes, { ...at('2030-01-10T00:00:00Z'), publicKeysPem: [pkcs1] }),
      (err) => isBargeError(err, 'KEY_INVALID'),
    );
  });

  it('writes a signature that `openssl pkeyutl -verifyrecover` turns back into the hash text', {
    skip: !hasOpenssl,
  }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-whitelist-'));
    try {
      const bytes = createWhitelist(options, keys.masterKeyPem);
      const text = bytes.toString('latin1');
      const start = text.indexOf('\n--\n') + 4;
      const nl = text.indexOf('\n', start);
      await writeFile(path.join(dir, 'sig'), bytes.subarray(nl + 1));
      await writeFile(path.join(dir, 'pub'), keys.publicKeyPem);
      const r = spawnSync('openssl', [
        'pkeyutl',
        '-verifyrecover',
        '-pubin',
        '-inkey',
        path.join(dir, 'pub'),
        '-in',
        path.join(dir, 'sig'),
      ]);
      assert.equal(r.stdout.toString('latin1'), text.slice(start, nl), r.stderr.toString());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
