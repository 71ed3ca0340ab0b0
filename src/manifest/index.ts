/**
 * Manifest and trust chain: the signed `.cvmfspublished` that names a repository revision, the
 * `.cvmfswhitelist` that says which certificates may sign it, the self-signed certificate and the
 * master key behind it, and the key files cvmfs_server keeps. Formats follow spec §4–§5 byte for
 * byte, and verifyTrustChain makes the stock client's checks in the client's order, so a
 * repository barge signs mounts, and one barge accepts is one a client accepts.
 */

export type { CertificateInput, CertificateOptions } from './certificate.js';
export { certificateCommonName, createCertificate, loadCertificate } from './certificate.js';
export type { WhitelistOptions } from './create-whitelist.js';
export { createWhitelist } from './create-whitelist.js';
export {
  certificateFingerprint,
  fingerprintAlgorithm,
  formatFingerprint,
  parseFingerprint,
} from './fingerprint.js';
export { assertFqrn } from './fqrn.js';
export type { Manifest } from './manifest.js';
export { parseManifest, ROOT_PATH_MD5 } from './manifest.js';
export type { RepositoryKeys } from './repository-keys.js';
export { generateRepositoryKeys, readRepositoryKeys, writeRepositoryKeys } from './repository-keys.js';
export type { KeyInput } from './rsa-key.js';
export { serializeManifest } from './serialize-manifest.js';
export { signManifest, verifyManifest } from './sign-manifest.js';
export type { TrustChainInput } from './trust-chain.js';
export { verifyTrustChain } from './trust-chain.js';
export type { WhitelistCheck } from './verify-whitelist.js';
export { verifyWhitelist } from './verify-whitelist.js';
export type { Whitelist } from './whitelist.js';
export { parseWhitelist } from './whitelist.js';
