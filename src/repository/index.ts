/**
 * Repositories: where a repository's files are (a data directory, a URL, a served directory), and
 * reading one as the client does: verify the trust chain, fetch catalogs and objects by hash,
 * walk trees across nested catalogs; plus `fsck` (every reachable object present and intact)
 * and `info` (revision, tags, catalogs, objects).
 */

export type { RepositoryPaths } from './data-dir.js';
export { isFqrn, repositoryPaths, validateFqrn } from './data-dir.js';
export type { FsckProblem, FsckReport } from './fsck.js';
export { fsck } from './fsck.js';
export type { HttpSourceOptions } from './http-source.js';
export { HttpSource, httpSource, proxyFor } from './http-source.js';
export { noProxyExempts, stripBrackets } from './no-proxy.js';
export type { OpenedSource } from './open-source.js';
export { openSource, openStoreSource } from './open-source.js';
export type { RepositoryInfo } from './repository-info.js';
export { repositoryInfo } from './repository-info.js';
export type { OpenRepositoryOptions } from './repository-reader.js';
export { RepositoryReader } from './repository-reader.js';
export type { RepositorySource } from './source.js';
export { storeSource } from './source.js';
