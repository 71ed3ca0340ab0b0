import type Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { type HashText, isHashText } from '../object/index.js';
import {
  createImage,
  openImage,
  PROPERTIES_DDL,
  readProperties,
  serializeImage,
  setProperty,
} from './sqlite-image.js';

/** What a reflog entry points at; stored as 0–3 (cvmfs `ReferenceType`, spec §9.2). */
export type ReferenceType = 'catalog' | 'certificate' | 'history' | 'metainfo';

/** One row of the reflog. */
export interface Reference {
  /** Hash text without suffix; the suffix follows from the type. */
  hash: HashText;
  type: ReferenceType;
  /** When the reference was added, Unix seconds. */
  timestamp: number;
}

const TYPES: ReferenceType[] = ['catalog', 'certificate', 'history', 'metainfo'];

// cvmfs reflog_sql.cc, byte for byte; the fixture's .cvmfsreflog holds exactly this text.
const REFS_DDL =
  'CREATE TABLE refs (hash TEXT, type INTEGER, timestamp INTEGER, CONSTRAINT pk_refs PRIMARY KEY (hash))';

/**
 * The reflog `.cvmfsreflog` (spec §9.2): every root catalog, certificate, history and meta-info
 * object a signed manifest ever named, so that gc and replication know what exists. Held in
 * memory; stored uncompressed, and the manifest's Y is the hash of serialize()'s bytes.
 */
export class ReflogDb {
  private constructor(
    private readonly db: Database.Database,
    /** The repository the reflog belongs to (property `fqrn`). */
    readonly fqrn: string,
  ) {}

  /** An empty reflog for `fqrn`, schema 1.0 revision 0. */
  static create(fqrn: string): ReflogDb {
    const db = createImage();
    db.transaction(() => {
      db.exec(PROPERTIES_DDL);
      db.exec(REFS_DDL);
      setProperty(db, 'schema', '1.0'); // cvmfs binds the float 1.0 into a TEXT column
      setProperty(db, 'schema_revision', '0');
      setProperty(db, 'fqrn', fqrn);
    })();
    return new ReflogDb(db, fqrn);
  }

  /** Opens the bytes of a `.cvmfsreflog`; REFLOG_INVALID unless it is a schema 1.0 reflog with an fqrn. */
  static open(bytes: Uint8Array): ReflogDb {
    const db = openImage(bytes, 'the reflog', 'REFLOG_INVALID');
    try {
      let props: Map<string, string>;
      try {
        props = readProperties(db);
        db.prepare('SELECT hash, type, timestamp FROM refs LIMIT 1').all();
      } catch (cause) {
        throw new BargeError('REFLOG_INVALID', 'the reflog lacks the properties or refs table', { cause });
      }
      if (!(Math.abs(Number(props.get('schema') ?? '1.0') - 1) < 0.0005)) {
        throw new BargeError('REFLOG_INVALID', `reflog schema ${props.get('schema')} is not 1.0`);
      }
      const fqrn = props.get('fqrn');
      if (fqrn === undefined) throw new BargeError('REFLOG_INVALID', "the reflog has no 'fqrn' property");
      return new ReflogDb(db, fqrn);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Records a reference, replacing any row of the same hash (cvmfs `INSERT OR REPLACE`). */
  add(hash: HashText, type: ReferenceType, timestamp: number): void {
    if (!isHashText(hash)) throw new BargeError('INVALID_ARGUMENT', `'${hash}' is not a content hash`);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new BargeError('INVALID_ARGUMENT', `reflog timestamp ${timestamp} is not Unix seconds`);
    }
    this.db
      .prepare('INSERT OR REPLACE INTO refs (hash, type, timestamp) VALUES (?, ?, ?)')
      .run(hash, typeCode(type), timestamp);
  }

  /** Removes the reference (matching hash and type, as cvmfs does); false when there was none. */
  remove(hash: HashText, type: ReferenceType): boolean {
    return (
      this.db.prepare('DELETE FROM refs WHERE hash = ? AND type = ?').run(hash, typeCode(type)).changes > 0
    );
  }

  /** Whether the reference is recorded. */
  contains(hash: HashText, type: ReferenceType): boolean {
    return (
      this.db.prepare('SELECT 1 FROM refs WHERE hash = ? AND type = ?').get(hash, typeCode(type)) !==
      undefined
    );
  }

  /** The references, optionally of one type, oldest first. */
  list(type?: ReferenceType): Reference[] {
    const rows = (
      type === undefined
        ? this.db.prepare('SELECT hash, type, timestamp FROM refs ORDER BY timestamp, rowid').all()
        : this.db
            .prepare('SELECT hash, type, timestamp FROM refs WHERE type = ? ORDER BY timestamp, rowid')
            .all(typeCode(type))
    ) as { hash: unknown; type: unknown; timestamp: unknown }[];
    return rows.map((r) => {
      const t = TYPES[Number(r.type)];
      if (t === undefined)
        throw new BargeError(
          'REFLOG_INVALID',
          `reflog row ${String(r.hash)} has unknown type ${String(r.type)}`,
        );
      return { hash: String(r.hash), type: t, timestamp: Number(r.timestamp) };
    });
  }

  /** The reflog as the bytes of a rollback-journal SQLite file, stored as-is at `/.cvmfsreflog`. */
  serialize(): Buffer {
    return serializeImage(this.db);
  }

  /** Releases the in-memory database. */
  close(): void {
    this.db.close();
  }
}

function typeCode(type: ReferenceType): number {
  const code = TYPES.indexOf(type);
  if (code < 0) throw new BargeError('INVALID_ARGUMENT', `'${type}' is not a reflog reference type`);
  return code;
}
