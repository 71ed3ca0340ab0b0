import { type HashAlgorithm, type HashText, hashAlgorithm, hashBytes, isHashText } from '../object/index.js';
import { type CertificateInput, loadCertificate } from './certificate.js';

/**
 * A hash text in the whitelist's fingerprint form (cvmfs `FingerprintCertificate`): uppercase hex
 * pairs joined by `:`, then the uppercased algorithm id, e.g. `AB:CD:…:EF-SHAKE128`.
 */
export function formatFingerprint(hash: HashText): string {
  const hex = hash.slice(0, 40).toUpperCase().match(/../g) ?? [];
  return hex.join(':') + hash.slice(40).toUpperCase();
}

/**
 * The hash text of a whitelist fingerprint line as cvmfs `MkFromFingerprint` reads it: stop at a
 * space, tab or `#`, drop `:`, lowercase. Undefined for anything that is not a SHA-1, RIPEMD-160
 * or SHAKE-128 hash text, or is all zeros: lines the client skips. (cvmfs would also take a
 * 32-digit MD5 fingerprint; barge does not trust MD5 and ignores such lines.)
 */
export function parseFingerprint(line: string): HashText | undefined {
  let text = '';
  for (const ch of line) {
    if (ch === ' ' || ch === '\t' || ch === '#') break;
    if (ch !== ':') text += ch.toLowerCase();
  }
  if (!isHashText(text) || /^0{40}/.test(text)) return undefined;
  return text;
}

/** The algorithm a fingerprint names by its length and id. */
export function fingerprintAlgorithm(fingerprint: string): HashAlgorithm | undefined {
  const hash = parseFingerprint(fingerprint);
  return hash === undefined ? undefined : hashAlgorithm(hash);
}

/**
 * The fingerprint of a certificate: the hash of its DER encoding (cvmfs `HashCertificate`, what the
 * whitelist lists; not the X object hash), in fingerprint form. SHA-1 gives what
 * `openssl x509 -noout -fingerprint -sha1` prints.
 */
export function certificateFingerprint(pem: CertificateInput, algorithm: HashAlgorithm = 'sha1'): string {
  return formatFingerprint(hashBytes(loadCertificate(pem).raw, algorithm));
}
