import type Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { PROPERTIES_DDL, readProperties, setProperty } from './sqlite-image.js';

/** History schema version cvmfs writes, as text: cvmfs binds the float 1.0 into a TEXT column (spec §9.1). */
export const HISTORY_SCHEMA = '1.0';
/** History schema revision of cvmfs 2.6 and later: branches table, tags.branch (cvmfs history_sql.cc). */
export const HISTORY_SCHEMA_REVISION = 3;

// The DDL strings are cvmfs's, byte for byte (including its double and triple spaces): SQLite keeps
// the text in sqlite_master, and the fixture's history database holds exactly these.
const BRANCHES_DDL =
  'CREATE TABLE branches (branch TEXT, parent TEXT, initial_revision INTEGER,' +
  '  CONSTRAINT pk_branch PRIMARY KEY (branch), ' +
  '  FOREIGN KEY (parent) REFERENCES branches (branch), ' +
  "  CHECK ((branch <> '') OR (parent IS NULL)), " +
  "  CHECK ((branch = '') OR (parent IS NOT NULL)))";
const TAGS_DDL =
  'CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, ' +
  '  timestamp INTEGER, channel INTEGER, description TEXT, size INTEGER, ' +
  '  branch TEXT, CONSTRAINT pk_tags PRIMARY KEY (name), ' +
  '  FOREIGN KEY (branch) REFERENCES branches (branch))';
const RECYCLE_BIN_DDL =
  'CREATE TABLE recycle_bin (hash TEXT, flags INTEGER,   CONSTRAINT pk_hash PRIMARY KEY (hash))';
const TRUNK_BRANCH = "INSERT INTO branches (branch, parent, initial_revision) VALUES ('', NULL, 0)";

/**
 * Creates the schema of an empty history database in cvmfs's order: properties, branches (with the
 * '' trunk row), tags, recycle_bin (kept empty, deprecated since revision 3), then the properties
 * schema, schema_revision and fqrn. `schema` is the text '1.0' because cvmfs binds the float 1.0 to
 * a TEXT column.
 */
export function createHistorySchema(db: Database.Database, fqrn: string): void {
  db.transaction(() => {
    db.exec(PROPERTIES_DDL);
    db.exec(BRANCHES_DDL);
    db.exec(TRUNK_BRANCH);
    db.exec(TAGS_DDL);
    db.exec(RECYCLE_BIN_DDL);
    setProperty(db, 'schema', HISTORY_SCHEMA);
    setProperty(db, 'schema_revision', String(HISTORY_SCHEMA_REVISION));
    setProperty(db, 'fqrn', fqrn);
  })();
}

/**
 * Checks an opened history database as cvmfs `SqliteHistory::Open` does (schema 1.0, an `fqrn`
 * property) and brings revisions 0–2 up to 3 as cvmfs `LiveSchemaUpgradeIfNecessary` does, so
 * that what barge writes back is what cvmfs_server would. Returns the fqrn; HISTORY_INVALID otherwise.
 */
export function upgradeHistorySchema(db: Database.Database): string {
  let props: Map<string, string>;
  try {
    props = readProperties(db);
  } catch (cause) {
    throw new BargeError('HISTORY_INVALID', 'the history database has no properties table', { cause });
  }
  // cvmfs reads a missing schema as 1.0 and a missing revision as 0; it compares with epsilon 0.0005.
  const schema = Number(props.get('schema') ?? '1.0');
  if (!(Math.abs(schema - 1) < 0.0005)) {
    throw new BargeError('HISTORY_INVALID', `history database schema ${props.get('schema')} is not 1.0`);
  }
  const revision = Number(props.get('schema_revision') ?? '0');
  if (!Number.isInteger(revision) || revision < 0 || revision > HISTORY_SCHEMA_REVISION) {
    throw new BargeError(
      'HISTORY_INVALID',
      `history schema revision ${props.get('schema_revision')} is unknown`,
      {
        hint: `barge knows revisions 0 to ${HISTORY_SCHEMA_REVISION}; a newer cvmfs may have written it`,
      },
    );
  }
  const fqrn = props.get('fqrn');
  if (fqrn === undefined) {
    throw new BargeError(
      'HISTORY_INVALID',
      "the history database has no 'fqrn' property; cvmfs cannot open it",
    );
  }
  if (revision < HISTORY_SCHEMA_REVISION) {
    try {
      db.transaction(() => {
        if (revision < 1) db.exec('ALTER TABLE tags ADD size INTEGER');
        if (revision < 2) db.exec(RECYCLE_BIN_DDL);
        if (revision < 3) {
          db.exec(BRANCHES_DDL);
          db.exec(TRUNK_BRANCH);
          db.exec('ALTER TABLE tags ADD branch TEXT REFERENCES branches (branch)');
          db.exec("UPDATE tags SET branch = ''");
          db.exec('DELETE FROM recycle_bin');
        }
        setProperty(db, 'schema', HISTORY_SCHEMA);
        setProperty(db, 'schema_revision', String(HISTORY_SCHEMA_REVISION));
      })();
    } catch (cause) {
      throw new BargeError(
        'HISTORY_INVALID',
        `cannot upgrade history schema revision ${revision}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
  }
  return fqrn;
}
