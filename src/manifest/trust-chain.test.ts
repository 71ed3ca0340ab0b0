import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { type ErrorCode, isBargeError } from '../error/index.js';
import { compressSync, type HashAlgorithm, hashBytes, objectPath } from '../object/index.js';
import { FIXTURE_FQRN, FIXTURE_PUB, fixtureFile, fixtureManifest } from '../testing/fixture.js';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  type Manifest,
  type RepositoryKeys,
  ROOT_PATH_MD5,
  serializeManifest,
  signManifest,
  type TrustChainInput,
  verifyTrustChain,
} from './index.js';

const FQRN = 'chain.example.org';
const NOW = new Date('2030-06-15T12:30:00Z');
const DAY = 86_400_000;

/** A signed manifest body without signManifest's safety checks, to build what it refuses to sign. */
function signUnchecked(m: Manifest, keyPem: string): Buffer {
  const body = serializeManifest(m);
  const hash = hashBytes(body, 'sha1');
  return Buffer.concat([body, Buffer.from(`--\n${hash}\n`), sign('sha1', Buffer.from(hash), keyPem)]);
}

describe('verifying the trust chain', () => {
  let keys: RepositoryKeys;
  let other: RepositoryKeys;
  before(async () => {
    [keys, other] = await Promise.all([generateRepositoryKeys(FQRN), generateRepositoryKeys(FQRN)]);
  });

  /** A consistent chain signed with `keys`; `change` adjusts pieces before and after signing. */
  function chain(
    change: {
      manifest?: Partial<Manifest>;
      xAlgorithm?: HashAlgorithm;
      certificateObject?: Buffer;
      certificateKeyPem?: string;
      whitelist?: { fqrn?: string; expires?: Date; fingerprints?: string[]; masterKeyPem?: string };
      input?: Partial<TrustChainInput>;
    } = {},
  ): TrustChainInput {
    const certificateObject = change.certificateObject ?? compressSync(Buffer.from(keys.certificatePem));
    const manifest: Manifest = {
      rootHash: 'a'.repeat(40),
      rootSize: 4096,
      rootPathHash: ROOT_PATH_MD5,
      ttl: 240,
      revision: 5,
      garbageCollectable: false,
      alternativePaths: false,
      fqrn: FQRN,
      certificate: hashBytes(compressSync(Buffer.from(keys.certificatePem)), change.xAlgorithm ?? 'sha1'),
      timestamp: Math.floor(NOW.getTime() / 1000) - 60,
      unknownKeys: {},
      ...change.manifest,
    };
    const wl = change.whitelist ?? {};
    return {
      manifestBytes: signUnchecked(manifest, change.certificateKeyPem ?? keys.certificateKeyPem),
      whitelistBytes: createWhitelist(
        {
          fqrn: wl.fqrn ?? FQRN,
          fingerprints: wl.fingerprints ?? [certificateFingerprint(keys.certificatePem)],
          created: new Date(NOW.getTime() - DAY),
          expires: wl.expires ?? new Date(NOW.getTime() + 29 * DAY),
        },
        wl.masterKeyPem ?? keys.masterKeyPem,
      ),
      certificateObject,
      publicKeysPem: [keys.publicKeyPem],
      fqrn: FQRN,
      now: NOW,
      ...change.input,
    };
  }

  it('accepts the fixture repository with its master key', async () => {
    const m = fixtureManifest();
    const x = m.get('X') as string;
    const manifest = verifyTrustChain({
      manifestBytes: fixtureFile('.cvmfspublished'),
      whitelistBytes: fixtureFile('.cvmfswhitelist'),
      certificateObject: fixtureFile(objectPath(x, 'X')),
      publicKeysPem: [await readFile(FIXTURE_PUB, 'utf8')],
      fqrn: FIXTURE_FQRN,
      now: new Date('2027-01-01T00:00:00Z'),
      minimumTimestamp: 1795594913,
    });
    assert.equal(manifest.rootHash, m.get('C'));
  });

  it('accepts a chain barge signed', () => {
    const input = chain();
    assert.deepEqual(verifyTrustChain(input).fqrn, FQRN);
    // and signManifest produces the same bytes as the unchecked helper for a mountable manifest
    const again = signManifest(verifyTrustChain(input), keys.certificateKeyPem);
    assert.deepEqual(again, input.manifestBytes);
  });

  it('accepts a SHAKE-128 certificate hash and a certificate listed by its SHAKE-128 fingerprint', () => {
    const input = chain({
      xAlgorithm: 'shake128',
      whitelist: { fingerprints: [certificateFingerprint(keys.certificatePem, 'shake128')] },
    });
    assert.match(verifyTrustChain(input).certificate, /-shake128$/);
  });

  const refused: [string, () => TrustChainInput, ErrorCode][] = [
    [
      'a manifest for another repository',
      () => chain({ manifest: { fqrn: 'other.example.org' } }),
      'FQRN_MISMATCH',
    ],
    [
      'a root path other than MD5("")',
      () => chain({ manifest: { rootPathHash: '0'.repeat(32) } }),
      'MANIFEST_INVALID',
    ],
    [
      'a manifest older than the last accepted one',
      () => chain({ input: { minimumTimestamp: Math.floor(NOW.getTime() / 1000) } }),
      'MANIFEST_OUTDATED',
    ],
    [
      'a damaged certificate object',
      () => {
        const obj = compressSync(Buffer.from(keys.certificatePem));
        obj[obj.length - 1] = (obj[obj.length - 1] as number) ^ 1;
        return chain({ certificateObject: obj });
      },
      'OBJECT_CORRUPT',
    ],
    [
      'a certificate object that is not zlib',
      () => {
        const raw = Buffer.from(keys.certificatePem);
        return chain({ certificateObject: raw, manifest: { certificate: hashBytes(raw, 'sha1') } });
      },
      'OBJECT_CORRUPT',
    ],
    [
      'a certificate object that is not a certificate',
      () => {
        const obj = compressSync(Buffer.from(keys.publicKeyPem));
        return chain({ certificateObject: obj, manifest: { certificate: hashBytes(obj, 'sha1') } });
      },
      'CERTIFICATE_INVALID',
    ],
    [
      'a tampered manifest body',
      () => {
        const input = chain();
        const bytes = Buffer.from(input.manifestBytes);
        bytes.write('S6', bytes.indexOf('S5\n'), 'latin1');
        return { ...input, manifestBytes: bytes };
      },
      'SIGNATURE_INVALID',
    ],
    [
      'a tampered manifest signature',
      () => {
        const input = chain();
        const bytes = Buffer.from(input.manifestBytes);
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
        return { ...input, manifestBytes: bytes };
      },
      'SIGNATURE_INVALID',
    ],
    [
      'a manifest signed by a key other than the certificate',
      () => chain({ certificateKeyPem: other.certificateKeyPem }),
      'SIGNATURE_INVALID',
    ],
    [
      'a tampered whitelist',
      () => {
        const input = chain();
        const bytes = Buffer.from(input.whitelistBytes);
        bytes.write('E2031', 15, 'latin1');
        return { ...input, whitelistBytes: bytes };
      },
      'SIGNATURE_INVALID',
    ],
    [
      'an expired whitelist',
      () => chain({ whitelist: { expires: new Date('2030-06-15T12:59:59Z') } }),
      'WHITELIST_EXPIRED',
    ],
    [
      'a whitelist for another repository',
      () => chain({ whitelist: { fqrn: 'other.example.org' } }),
      'FQRN_MISMATCH',
    ],
    [
      'a whitelist signed by another master key',
      () => chain({ whitelist: { masterKeyPem: other.masterKeyPem } }),
      'SIGNATURE_INVALID',
    ],
    [
      'a certificate the whitelist does not list',
      () => chain({ whitelist: { fingerprints: [certificateFingerprint(other.certificatePem)] } }),
      'CERTIFICATE_NOT_LISTED',
    ],
    [
      'a certificate listed only by a fingerprint of the X object (not of its DER)',
      () => {
        const x = hashBytes(compressSync(Buffer.from(keys.certificatePem)), 'sha1');
        return chain({ whitelist: { fingerprints: [x.toUpperCase().match(/../g)?.join(':') as string] } });
      },
      'CERTIFICATE_NOT_LISTED',
    ],
    ['no master public key', () => chain({ input: { publicKeysPem: [] } }), 'KEY_NOT_FOUND'],
  ];
  for (const [what, build, code] of refused) {
    it(`refuses ${what} as ${code}`, () => {
      assert.throws(
        () => verifyTrustChain(build()),
        (err) => isBargeError(err, code),
      );
    });
  }

  it('checks in the order the client does: name before certificate before whitelist', () => {
    const badEverything = chain({
      manifest: { fqrn: 'other.example.org' },
      whitelist: {
        expires: new Date('2030-06-15T12:00:00Z'),
        fingerprints: [certificateFingerprint(other.certificatePem)],
      },
    });
    assert.throws(
      () => verifyTrustChain(badEverything),
      (err) => isBargeError(err, 'FQRN_MISMATCH'),
    );
    const badWhitelist = chain({
      whitelist: {
        expires: new Date('2030-06-15T13:00:00Z'),
        fingerprints: [certificateFingerprint(other.certificatePem)],
      },
      input: { now: new Date('2030-06-15T13:10:00Z') },
    });
    assert.throws(
      () => verifyTrustChain(badWhitelist),
      (err) => isBargeError(err, 'WHITELIST_EXPIRED'),
    );
  });
});
