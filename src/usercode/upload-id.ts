import { BargeError } from '../error/index.js';
import { isGroupName } from './token-authorize.js';

/** A parsed upload id: `<group>/<hex digest of the tarball>`. */
export interface UploadId {
  cid: string;
  group: string;
  /** Lowercase hex: 64 digits (SHA-256, what jobsub sends) or 40 (SHA-1, what justIN sends). */
  digest: string;
  algorithm: 'sha256' | 'sha1';
}

/**
 * Parses a cid as cvmfs-user-pub clients send it (already percent-decoded). barge holds clients to
 * what they promise: the digest must be the tarball's own SHA-256 (or SHA-1), checked on upload, so
 * two different tarballs can never share an id.
 */
export function parseUploadId(text: string | null | undefined): UploadId {
  if (!text) throw new BargeError('INVALID_ARGUMENT', 'the request has no cid');
  const slash = text.indexOf('/');
  const group = slash < 0 ? '' : text.slice(0, slash);
  const digest = slash < 0 ? text : text.slice(slash + 1);
  if (!isGroupName(group)) {
    throw new BargeError('INVALID_ARGUMENT', `cid ${JSON.stringify(text)} does not start with a group name`, {
      hint: 'a cid is <group>/<sha256 of the tarball>, e.g. cms/3a7bd3e2…',
    });
  }
  const algorithm = /^[0-9a-f]{64}$/.test(digest)
    ? 'sha256'
    : /^[0-9a-f]{40}$/.test(digest)
      ? 'sha1'
      : undefined;
  if (!algorithm) {
    throw new BargeError('INVALID_ARGUMENT', `cid ${JSON.stringify(text)} does not end in a hex digest`, {
      hint: 'a cid is <group>/<sha256 of the tarball> (64 lowercase hex digits; 40 for SHA-1)',
    });
  }
  return { cid: `${group}/${digest}`, group, digest, algorithm };
}
