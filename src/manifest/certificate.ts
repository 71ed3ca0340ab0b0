import { createPublicKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { BargeError } from '../error/index.js';
import {
  derBitString,
  derNull,
  derOid,
  derSequence,
  derSet,
  derTime,
  derUnsignedInteger,
  derUtf8String,
} from './der.js';
import { assertFqrn } from './fqrn.js';
import { type KeyInput, loadRsaPrivateKey } from './rsa-key.js';

/** A certificate as PEM text (string or bytes) or one Node already parsed. */
export type CertificateInput = string | Buffer | X509Certificate;

/** Options of createCertificate. */
export interface CertificateOptions {
  fqrn: string;
  /** The certificate's RSA private key; the certificate is self-signed with it. */
  keyPem: KeyInput;
  /** Validity in days (cvmfs_server: 365; clients ignore validity, spec §4.3). */
  days?: number;
  /** Start of validity; now by default. */
  notBefore?: Date;
}

const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_COMMON_NAME = '2.5.4.3';
const DAY_MS = 86_400_000;

/**
 * The subject CN cvmfs_server gives the certificate (`create_cert` in cvmfs_server_ssl.sh): the
 * fqrn cut to 30 characters plus `[...]` when longer, then ` CernVM-FS Release Managers`.
 */
export function certificateCommonName(fqrn: string): string {
  const cn = fqrn.length > 30 ? `${fqrn.slice(0, 30)}[...]` : fqrn;
  return `${cn} CernVM-FS Release Managers`;
}

/**
 * A self-signed X.509 certificate in PEM, shaped like the one `cvmfs_server mkfs` makes with
 * `openssl req` + `openssl x509 -req -signkey` (the fixture's): version 1, no extensions, a random
 * positive 159-bit serial (OpenSSL 3's choice), issuer = subject = the CN above,
 * sha256WithRSAEncryption. Encoded here in DER, so no openssl binary is needed.
 */
export function createCertificate(options: CertificateOptions): string {
  assertFqrn(options.fqrn);
  const days = options.days ?? 365;
  if (!Number.isInteger(days) || days < 1) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `certificate validity must be a positive number of days, not ${days}`,
    );
  }
  const key = loadRsaPrivateKey(options.keyPem, 'the certificate private key');
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // X.509 times have whole seconds; drop milliseconds so that the dates read back as given.
  const notBefore = new Date(Math.floor((options.notBefore ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const serial = randomBytes(20);
  serial[0] = (serial[0] as number) & 0x7f;

  const algorithm = derSequence(derOid(OID_SHA256_WITH_RSA), derNull());
  const name = derSequence(
    derSet(derSequence(derOid(OID_COMMON_NAME), derUtf8String(certificateCommonName(options.fqrn)))),
  );
  const tbs = derSequence(
    derUnsignedInteger(serial),
    algorithm,
    name,
    derSequence(derTime(notBefore), derTime(notAfter)),
    name,
    spki,
  );
  const der = derSequence(tbs, algorithm, derBitString(sign('sha256', tbs, key)));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END CERTIFICATE-----\n`;
}

/**
 * Parses a PEM certificate (the client's `PEM_read_bio_X509_AUX`) and insists on an RSA key;
 * CERTIFICATE_INVALID otherwise.
 */
export function loadCertificate(input: CertificateInput): X509Certificate {
  if (input instanceof X509Certificate) return input;
  let cert: X509Certificate;
  try {
    const text = input.toString();
    // X509Certificate also takes DER; the client reads PEM only, so DER is refused here too.
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "BEGIN CERTIFICATE" block');
    cert = new X509Certificate(text);
  } catch (cause) {
    throw new BargeError('CERTIFICATE_INVALID', 'the certificate is not a PEM X.509 certificate', {
      cause,
      hint: 'the X object must be zlib-compressed PEM as cvmfs_server uploads it (spec §4.3)',
    });
  }
  if (cert.publicKey.asymmetricKeyType !== 'rsa') {
    throw new BargeError(
      'CERTIFICATE_INVALID',
      `the certificate holds a ${cert.publicKey.asymmetricKeyType} key, not RSA`,
      {
        hint: 'CernVM-FS manifests are signed with RSA keys',
      },
    );
  }
  return cert;
}
