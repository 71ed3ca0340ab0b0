/**
 * Publishing: the one writer of a repository. Changes are applied to a WorkingTree (catalogs loaded
 * lazily, copy on write), content becomes objects through an ObjectWriter, and commit writes the
 * changed catalogs bottom-up, the history, and a signed manifest last, under the repository lock.
 * The local PublishState (stat and content caches) makes republishing unchanged trees cheap.
 */

export type { CatalogLoader } from './catalog-node.js';
export { CatalogNode } from './catalog-node.js';
export { commitCatalogs } from './commit-catalogs.js';
export { failpoint } from './failpoint.js';
export { IngestPool } from './ingest-pool.js';
export type { InitOptions } from './init-repository.js';
export { initRepository, resignWhitelist } from './init-repository.js';
export type { GcRun, LedgerCatalog, LedgerRevision } from './ledger.js';
export { Ledger } from './ledger.js';
export type { IngestedContent, WriterStats } from './object-writer.js';
export { ObjectWriter, sourceError } from './object-writer.js';
export type { DirectoryPublishStats, PublishProgress } from './publish-directory.js';
export { directoryEntry, listSubtree, publishDirectory } from './publish-directory.js';
export type { ContentRef } from './publish-state.js';
export { PublishState } from './publish-state.js';
export type { PublishResult } from './publisher.js';
export { Publisher } from './publisher.js';
export type {
  ImageSettings,
  RepositoryConfig,
  RetentionPolicy,
  UploadSettings,
} from './repository-config.js';
export {
  DEFAULT_IMAGE_SETTINGS,
  DEFAULT_RETENTION,
  DEFAULT_UPLOAD_SETTINGS,
  parseRepositoryConfig,
  readRepositoryConfig,
  writeRepositoryConfig,
} from './repository-config.js';
export { RepositoryLock } from './repository-lock.js';
export { runPool } from './run-pool.js';
export type { Stager } from './staging-session.js';
export { StagingSession } from './staging-session.js';
export { CATALOG_MARKER, sameEntry, validatePath, WorkingTree } from './working-tree.js';
