import path from 'node:path';
import { BargeError } from '../error/index.js';

/** Where one repository's files live under a barge data directory. */
export interface RepositoryPaths {
  fqrn: string;
  /** Served files (`.cvmfspublished`, `data/`): serve `<data>/repos` as `/cvmfs`. */
  served: string;
  /** Key directory: `<fqrn>.masterkey|.pub|.key|.crt`. */
  keys: string;
  /** Writer state (lock, caches, ledger); never served. */
  state: string;
}

/** The paths of repository `fqrn` under `dataDir`. */
export function repositoryPaths(dataDir: string, fqrn: string): RepositoryPaths {
  validateFqrn(fqrn);
  const root = path.resolve(dataDir);
  return {
    fqrn,
    served: path.join(root, 'repos', fqrn),
    keys: path.join(root, 'keys'),
    state: path.join(root, 'state', fqrn),
  };
}

const LABEL = '[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?';
const FQRN = new RegExp(`^${LABEL}(?:\\.${LABEL})+$`);

/** Whether `name` is a valid repository name (see validateFqrn); cheap enough for every request. */
export function isFqrn(name: string): boolean {
  return name.length <= 200 && FQRN.test(name);
}

/**
 * Checks a fully qualified repository name: DNS-like labels with at least one dot, as the client's
 * option parser requires (it splits off the domain and asserts), and safe as a path component.
 */
export function validateFqrn(fqrn: string): string {
  if (!isFqrn(fqrn)) {
    throw new BargeError('INVALID_FQRN', `'${fqrn}' is not a valid repository name`, {
      hint: 'use a lowercase DNS-like name with at least one dot, e.g. sw.example.org',
    });
  }
  return fqrn;
}
