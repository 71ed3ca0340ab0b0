import { constants, privateEncrypt } from 'node:crypto';
import { BargeError } from '../error/index.js';
import { type HashAlgorithm, hashBytes } from '../object/index.js';
import { formatFingerprint, parseFingerprint } from './fingerprint.js';
import { assertFqrn } from './fqrn.js';
import { type KeyInput, loadRsaPrivateKey } from './rsa-key.js';
import { joinSignedLetter } from './signed-letter.js';

const HOUR_MS = 3_600_000;

/** What createWhitelist signs. */
export interface WhitelistOptions {
  fqrn: string;
  /** Certificate fingerprints (certificateFingerprint), SHA-1 or with a -RMD160/-SHAKE128 id. */
  fingerprints: string[];
  created: Date;
  /** Clients refuse the whitelist from the start of this UTC hour (spec §5.1). */
  expires: Date;
  /** Algorithm of the hash line (cvmfs_server: CVMFS_HASH_ALGORITHM, default sha1). */
  algorithm?: HashAlgorithm;
}

/**
 * The bytes of `.cvmfswhitelist` as cvmfs_server's `create_whitelist` writes them (spec §5.1):
 * creation and `E`xpiry times in UTC, `N<fqrn>`, one fingerprint per line, `--`, the hash of
 * everything above, and a raw RSA PKCS#1 v1.5 type-1 signature of the ASCII hash text by the master
 * key (`openssl rsautl -sign`: no DigestInfo, no hashing). A whitelist that would be expired the
 * moment it is written is INVALID_ARGUMENT.
 */
export function createWhitelist(options: WhitelistOptions, masterPrivateKeyPem: KeyInput): Buffer {
  assertFqrn(options.fqrn);
  const { created, expires } = options;
  const createdText = timestamp(created);
  const expiresText = timestamp(expires);
  if (!(created.getTime() < Math.floor(expires.getTime() / HOUR_MS) * HOUR_MS)) {
    throw new BargeError('INVALID_ARGUMENT', 'the whitelist would be expired when created', {
      hint: 'clients refuse a whitelist from the start of its expiry hour; give an expiry at least an hour later',
      details: { created: created.toISOString(), expires: expires.toISOString() },
    });
  }
  if (options.fingerprints.length === 0) {
    throw new BargeError('INVALID_ARGUMENT', 'a whitelist needs at least one certificate fingerprint');
  }
  const lines = options.fingerprints.map((fp) => {
    const hash = parseFingerprint(fp);
    if (hash === undefined)
      throw new BargeError('INVALID_ARGUMENT', `'${fp.slice(0, 80)}' is not a certificate fingerprint`);
    return formatFingerprint(hash);
  });
  const body = Buffer.from(
    `${createdText}\nE${expiresText}\nN${options.fqrn}\n${lines.join('\n')}\n`,
    'latin1',
  );
  const hashText = hashBytes(body, options.algorithm ?? 'sha1');
  const key = loadRsaPrivateKey(masterPrivateKeyPem, 'the master key');
  // privateEncrypt with PKCS#1 padding is RSA_private_encrypt(RSA_PKCS1_PADDING): type-1 padding.
  const signature = privateEncrypt(
    { key, padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(hashText, 'latin1'),
  );
  return joinSignedLetter(body, hashText, signature);
}

/** `YYYYMMDDhhmmss` in UTC, cvmfs `WhitelistTimestamp` / `date -u +%Y%m%d%H%M%S`. */
function timestamp(date: Date): string {
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() > 9999 || date.getUTCFullYear() < 1970) {
    throw new BargeError('INVALID_ARGUMENT', `${String(date)} cannot be written as a whitelist time`);
  }
  return date.toISOString().slice(0, 19).replace(/[-T:]/g, '');
}
