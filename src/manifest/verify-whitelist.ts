import { constants, publicDecrypt } from 'node:crypto';
import { BargeError } from '../error/index.js';
import { type KeyInput, loadRsaPublicKey, modulusBytes } from './rsa-key.js';
import { openSignedLetter } from './signed-letter.js';
import { parseWhitelist, type Whitelist } from './whitelist.js';

/** What a whitelist is checked against. */
export interface WhitelistCheck {
  /** The repository name the client mounts. */
  fqrn: string;
  /** Master public keys (`BEGIN PUBLIC KEY` PEM); one of them must have signed (CVMFS_PUBLIC_KEY). */
  publicKeysPem: KeyInput[];
  /** The time to check expiry against. */
  now: Date;
}

/**
 * Verifies a whitelist in the client's order (spec §11.2 rows 8–9, cvmfs `ParseWhitelist` then
 * `VerifyWhitelist`): well-formed (WHITELIST_INVALID), not expired at UTC-hour granularity
 * (WHITELIST_EXPIRED: refused from the start of the expiry hour), `N` equal to the fqrn
 * (FQRN_MISMATCH), then the hash line and a raw RSA PKCS#1 signature of it by one of the master
 * keys (SIGNATURE_INVALID). `Vpkcs7` and `Wcachain` ask for CA-store checks barge does not make, so
 * they are WHITELIST_INVALID rather than silently skipped.
 */
export function verifyWhitelist(bytes: Uint8Array, check: WhitelistCheck): Whitelist {
  const keys = check.publicKeysPem.map((pem, i) => loadRsaPublicKey(pem, `master public key #${i + 1}`));
  if (keys.length === 0) {
    throw new BargeError('KEY_NOT_FOUND', 'no master public key to verify the whitelist with', {
      hint: 'give the repository .pub file (clients get it as CVMFS_PUBLIC_KEY)',
    });
  }
  const wl = parseWhitelist(bytes);
  if (!(check.now.getTime() < wl.expires.getTime())) {
    throw new BargeError(
      'WHITELIST_EXPIRED',
      `the whitelist of ${wl.fqrn} expired at ${wl.expires.toISOString()}`,
      {
        hint: 'clients refuse it from the start of the expiry hour; re-sign it with the master key',
        details: { expiry: wl.expiry, now: check.now.toISOString() },
      },
    );
  }
  if (wl.fqrn !== check.fqrn) {
    throw new BargeError('FQRN_MISMATCH', `the whitelist is for '${wl.fqrn}', not '${check.fqrn}'`, {
      hint: 'the server serves another repository at this URL, or the whitelist was copied from one',
    });
  }
  if (wl.verifyPkcs7 || wl.verifyCaChain) {
    throw new BargeError(
      'WHITELIST_INVALID',
      `the whitelist asks for ${wl.verifyPkcs7 ? 'Vpkcs7' : 'Wcachain'} verification`,
      {
        hint: 'barge verifies whitelists signed by a master key only; re-sign it without CA-store verification',
      },
    );
  }
  const letter = openSignedLetter(bytes, 'the whitelist');
  const expected = Buffer.from(letter.hashText, 'latin1');
  for (const key of keys) {
    // cvmfs VerifyRsa skips keys whose modulus is shorter than the hash text.
    if (expected.length > modulusBytes(key)) continue;
    let recovered: Buffer;
    try {
      recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, letter.signature);
    } catch {
      continue; // not this key's signature (or not type-1 padding)
    }
    if (recovered.equals(expected)) return wl;
  }
  throw new BargeError(
    'SIGNATURE_INVALID',
    `the whitelist of ${wl.fqrn} is not signed by any of the master keys`,
    {
      hint: 'check that the .pub file belongs to this repository; otherwise the whitelist was forged or damaged',
    },
  );
}
