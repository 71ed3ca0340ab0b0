/**
 * Catalog DDL exactly as the CVMFS 2.11.5 server writes it (schema 2.5, revision 6: the fixture's
 * sqlite_master text, double spaces included). Revision 6 has no `mtimens` column; 2.12+ clients
 * select columns by revision, so this is what every 2.11+ client reads (spec §6.1–6.2).
 */
export const CATALOG_SCHEMA = '2.5';
export const CATALOG_SCHEMA_REVISION = 6;

export const CATALOG_DDL = [
  'CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key))',
  'CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, parent_2 INTEGER, hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, mtime INTEGER, flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, gid INTEGER,  xattr BLOB,  CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2))',
  'CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, size INTEGER,  hash BLOB,  CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, offset, size),  FOREIGN KEY (md5path_1, md5path_2) REFERENCES    catalog(md5path_1, md5path_2))',
  'CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER, CONSTRAINT pk_nested_catalogs PRIMARY KEY (path))',
  'CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER, CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path))',
  'CREATE TABLE statistics (counter TEXT, value INTEGER, CONSTRAINT pk_statistics PRIMARY KEY (counter))',
  'CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2)',
];

/** SQLite page size of written catalogs (Debian's SQLite default, as in the fixture). */
export const CATALOG_PAGE_SIZE = 4096;
