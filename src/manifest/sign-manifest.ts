import { sign, verify } from 'node:crypto';
import { BargeError } from '../error/index.js';
import { hashAlgorithm, hashBytes } from '../object/index.js';
import { type CertificateInput, loadCertificate } from './certificate.js';
import { type Manifest, parseManifest, ROOT_PATH_MD5 } from './manifest.js';
import { type KeyInput, loadRsaPrivateKey } from './rsa-key.js';
import { serializeManifest } from './serialize-manifest.js';
import { joinSignedLetter, openSignedLetter } from './signed-letter.js';

/**
 * The bytes of `.cvmfspublished` (spec §4.2): body + `--\n` + hash of the body with the repository
 * algorithm (that of C) + `\n` + an RSASSA-PKCS1-v1_5/SHA-1 signature over the ASCII hash text by
 * the certificate key, no trailing newline. Refuses manifests that would not mount (no N, no T,
 * wrong R) with MANIFEST_INVALID: a signature makes a mistake look authoritative.
 */
export function signManifest(m: Manifest, certPrivateKeyPem: KeyInput): Buffer {
  if (m.fqrn === '')
    throw unmountable("'N' (repository name) is empty; the client compares it with the fqrn");
  if (m.timestamp <= 0) {
    throw unmountable(
      "'T' (publish time) is 0; 2.11 clients then reload the root catalog in a loop (spec §4.1)",
    );
  }
  if (m.rootPathHash !== ROOT_PATH_MD5) throw unmountable(`'R' must be ${ROOT_PATH_MD5}`);
  const body = serializeManifest(m);
  const key = loadRsaPrivateKey(certPrivateKeyPem, 'the certificate private key');
  const hashText = hashBytes(body, hashAlgorithm(m.rootHash));
  const signature = sign('sha1', Buffer.from(hashText, 'latin1'), key);
  return joinSignedLetter(body, hashText, signature);
}

/**
 * Verifies a manifest as the client does (`VerifyLetter` without RSA, spec §4.2): parse, hash line
 * equal to the hash of the body (algorithm from the hash line's length), then the SHA-1 signature
 * over the hash text with the certificate's public key. Returns the parsed manifest;
 * SIGNATURE_INVALID when any of it fails. The certificate is PEM text (the inflated X object).
 */
export function verifyManifest(bytes: Uint8Array, certificatePem: CertificateInput): Manifest {
  const manifest = parseManifest(bytes);
  const letter = openSignedLetter(bytes, 'the manifest');
  const cert = loadCertificate(certificatePem);
  let ok = false;
  try {
    ok = verify('sha1', Buffer.from(letter.hashText, 'latin1'), cert.publicKey, letter.signature);
  } catch {
    ok = false; // OpenSSL throws on some malformed signatures; to the client they are just invalid.
  }
  if (!ok) {
    throw new BargeError(
      'SIGNATURE_INVALID',
      "the manifest signature does not verify with the certificate's key",
      {
        hint: 'the manifest was signed with another key than the certificate named by X; re-sign it',
        details: { hashText: letter.hashText, certificate: manifest.certificate },
      },
    );
  }
  return manifest;
}

function unmountable(what: string): BargeError {
  return new BargeError('MANIFEST_INVALID', `refusing to sign a manifest that clients cannot mount: ${what}`);
}
