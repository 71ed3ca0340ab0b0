import { BargeError } from '../error/index.js';
import { decompressSync, hashAlgorithm, hashBytes } from '../object/index.js';
import { loadCertificate } from './certificate.js';
import { certificateFingerprint, fingerprintAlgorithm } from './fingerprint.js';
import { type Manifest, parseManifest, ROOT_PATH_MD5 } from './manifest.js';
import type { KeyInput } from './rsa-key.js';
import { verifyManifest } from './sign-manifest.js';
import { verifyWhitelist } from './verify-whitelist.js';

/** Everything the client has in hand when it decides whether to trust a manifest. */
export interface TrustChainInput {
  /** `.cvmfspublished` as fetched. */
  manifestBytes: Uint8Array;
  /** `.cvmfswhitelist` as fetched. */
  whitelistBytes: Uint8Array;
  /** The object `data/…X` named by the manifest's X, compressed, as fetched. */
  certificateObject: Uint8Array;
  /** The trusted master public keys (CVMFS_PUBLIC_KEY). */
  publicKeysPem: KeyInput[];
  /** The repository name being mounted. */
  fqrn: string;
  /** The time to check the whitelist's expiry against. */
  now: Date;
  /** T of the last manifest accepted before; an older T is MANIFEST_OUTDATED (spec §4.4). */
  minimumTimestamp?: number;
}

/**
 * Decides whether to trust a manifest exactly as the client does, in its order (spec §4.4,
 * §11.2 rows 5–10): N equals the fqrn (FQRN_MISMATCH); R is MD5("") (MANIFEST_INVALID); T not
 * older than the last accepted one (MANIFEST_OUTDATED); the certificate object's hash equals X and
 * it inflates (OBJECT_CORRUPT) to a PEM certificate (CERTIFICATE_INVALID); the manifest signature
 * verifies with it (SIGNATURE_INVALID); the whitelist is valid, unexpired, for this fqrn and signed
 * by a master key (verifyWhitelist); its fingerprint list holds the certificate
 * (CERTIFICATE_NOT_LISTED). Returns the trusted manifest.
 */
export function verifyTrustChain(input: TrustChainInput): Manifest {
  const manifest = parseManifest(input.manifestBytes);
  if (manifest.fqrn !== input.fqrn) {
    throw new BargeError('FQRN_MISMATCH', `the manifest is for '${manifest.fqrn}', not '${input.fqrn}'`, {
      hint: 'the URL serves another repository; check the server URL and the repository name',
    });
  }
  if (manifest.rootPathHash !== ROOT_PATH_MD5) {
    throw new BargeError('MANIFEST_INVALID', `manifest 'R' is ${manifest.rootPathHash}, not MD5("")`, {
      hint: 'clients refuse it (kFailRootMismatch); the publisher must write R = d41d8cd98f00b204e9800998ecf8427e',
    });
  }
  if (input.minimumTimestamp !== undefined && manifest.timestamp < input.minimumTimestamp) {
    throw new BargeError(
      'MANIFEST_OUTDATED',
      `the manifest was published at T=${manifest.timestamp}, before the last accepted one (${input.minimumTimestamp})`,
      {
        hint: 'a proxy or replica serves a stale manifest; clients keep the newer revision they have',
      },
    );
  }

  const xAlgorithm = hashAlgorithm(manifest.certificate);
  const xHash = hashBytes(input.certificateObject, xAlgorithm);
  if (xHash !== manifest.certificate) {
    throw new BargeError(
      'OBJECT_CORRUPT',
      `the certificate object hashes to ${xHash}, not to X ${manifest.certificate}`,
      {
        hint: 'fetch it again (a proxy may have damaged it); the object must be stored under the hash of its compressed bytes',
      },
    );
  }
  const certificate = loadCertificate(
    decompressSync(input.certificateObject, `certificate object ${manifest.certificate}`),
  );
  verifyManifest(input.manifestBytes, certificate);

  const whitelist = verifyWhitelist(input.whitelistBytes, {
    fqrn: input.fqrn,
    publicKeysPem: input.publicKeysPem,
    now: input.now,
  });
  const listed = whitelist.fingerprints.some((fp) => {
    const algorithm = fingerprintAlgorithm(fp);
    return algorithm !== undefined && certificateFingerprint(certificate, algorithm) === fp;
  });
  if (!listed) {
    throw new BargeError('CERTIFICATE_NOT_LISTED', "the manifest's certificate is not in the whitelist", {
      hint: 'the manifest was signed with a certificate the master key never approved; re-sign the whitelist with its fingerprint, or re-sign the manifest',
      details: { certificate: certificateFingerprint(certificate), listed: whitelist.fingerprints },
    });
  }
  return manifest;
}
