import { BargeError } from '../error/index.js';
import { isFqrn } from '../repository/index.js';

/** True when `name` is a fully qualified repository name barge can hold (one rule, in repository/). */
export { isFqrn };

/** A request for one served file of one repository. */
export interface RepositoryFile {
  fqrn: string;
  /** Path relative to the repository's base URL (`.cvmfspublished`, `data/ab/cd…C`); '' for the base itself. */
  key: string;
}

/**
 * Decodes the `<fqrn>` and `<key>` parts of `/cvmfs/<fqrn>/<key>` and refuses anything that could
 * name a file outside the repository: `.` and `..` segments (also percent-encoded, since decoding
 * comes first), empty segments (`//etc`, an absolute key), NUL and backslashes. The checks run on
 * the decoded text, which is exactly what reaches the file system. INVALID_PATH answers 400.
 *
 * Returns undefined for a well-formed path that cannot be a served file: a name that is not an
 * fqrn, the base directory, a directory (trailing slash), or the upload staging area `data/txn`.
 */
export function parseRepositoryPath(rawFqrn: string, rawKey: string): RepositoryFile | undefined {
  const fqrn = decode(rawFqrn);
  const key = decode(rawKey);
  checkSegment(fqrn);
  const segments = key.split('/');
  // A trailing slash asks for a directory listing: well-formed, but never served.
  const directory = segments.length > 1 && segments[segments.length - 1] === '';
  if (directory) segments.pop();
  if (key !== '') segments.forEach(checkSegment);
  if (!isFqrn(fqrn) || key === '' || directory) return undefined;
  // data/txn holds objects still being written (FsObjectStore, cvmfs_server): never served.
  if (key === 'data/txn' || key.startsWith('data/txn/')) return undefined;
  return { fqrn, key };
}

function decode(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new BargeError('INVALID_PATH', 'the request path is not valid percent-encoding', { cause: err });
  }
}

function checkSegment(segment: string): void {
  if (segment === '' || segment === '.' || segment === '..') {
    throw new BargeError('INVALID_PATH', `the request path has an empty, '.' or '..' segment`);
  }
  if (segment.includes('\\') || segment.includes('\0') || segment.includes('/')) {
    throw new BargeError('INVALID_PATH', 'the request path has a backslash, NUL or encoded slash in a name');
  }
}
