/** The JSON of /api/v1/ui (src/observe/ui-api.ts), as the pages read it. */

export interface Sample {
  at: number;
  revision: number;
  objects: number;
  logicalBytes: number;
  files: number;
  storedObjects: number;
  storedBytes: number;
}

export interface RepositorySummary {
  fqrn: string;
  revision: number;
  rootHash: string;
  published: string;
  manifestAgeSeconds: number;
  whitelist: { expires: string; secondsLeft: number; expired: boolean; warning: boolean } | null;
  tags: { name: string; revision: number; timestamp: string; description: string }[];
  writable: boolean;
  uploads: { prefix: string; expiryDays: number } | null;
  publishes: number | null;
  gcRuns: number;
  lastGc: string | null;
  stats: Sample | null;
}

export interface ImageView {
  reference: string;
  platform: string;
  architectures: string[];
  sourceDigest: string;
  configDigest: string;
  root: string;
  layers: number;
  layerBytes: number;
  files: number | null;
  bytes: number | null;
  lastSync: string;
  syncStatus: 'published' | 'unchanged' | 'failed' | null;
  error: { code: string; message: string } | null;
}

export interface UploadView {
  cid: string;
  digest: string;
  state: string;
  path: string;
  files: number;
  bytes: number;
  tarballBytes: number;
  revision: number;
  created: string;
  lastUsed: string;
  expires: string | null;
  pinned: boolean;
}

export interface UploadsAnswer {
  enabled: boolean;
  settings: { prefix: string; expiryDays: number } | null;
  groups: { group: string; uploads: UploadView[] }[];
}

export interface GcRun {
  startedAt: number;
  seconds: number;
  revisionsDropped: number;
  catalogsDeleted: number;
  objectsDeleted: number;
  bytesFreed: number;
  uploadsExpired: number;
}

export interface GcReport {
  revisionsDropped: number[];
  catalogsDeleted: number;
  objectsDeleted: number;
  bytesFreed: number;
  uploadsExpired: string[];
  kept: { revision: number; why: string[] }[];
  seconds: number;
}

export interface BrowsableRoot {
  kind: 'current' | 'tag' | 'revision';
  name: string;
  revision: number;
  hash: string;
  timestamp: string;
}

export interface FileView {
  name: string;
  path: string;
  type: string;
  mode: string;
  size: number;
  mtime: string;
  target: string;
  nestedCatalog: boolean;
  chunks: number;
}

export interface DirectoryAnswer {
  root: BrowsableRoot;
  path: string;
  catalog: string;
  entries: FileView[];
}
