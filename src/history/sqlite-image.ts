import Database from 'better-sqlite3';
import { BargeError, type ErrorCode } from '../error/index.js';

/** The page size barge writes (Debian's SQLite default, as in the fixture; official cvmfs builds use 1024). */
export const PAGE_SIZE = 4096;

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** An empty in-memory database with the page size set before the first table exists. */
export function createImage(): Database.Database {
  const db = new Database(':memory:');
  db.pragma(`page_size = ${PAGE_SIZE}`);
  return db;
}

/**
 * Opens the bytes of an SQLite file in memory. A WAL header (bytes 18–19 = 2) is turned back into a
 * rollback-journal one on a copy: a single-file image has no WAL content, and an in-memory open of
 * a WAL image fails. Bytes that are not SQLite are `code`, naming `what`.
 */
export function openImage(bytes: Uint8Array, what: string, code: ErrorCode): Database.Database {
  const image = Buffer.from(bytes);
  if (image.length < 100 || !image.subarray(0, 16).equals(MAGIC)) {
    throw new BargeError(code, `${what} is not an SQLite database`, {
      hint: 'an object of the wrong kind, or a damaged one; fetch it again',
    });
  }
  if (image[18] === 2) image[18] = 1;
  if (image[19] === 2) image[19] = 1;
  let db: Database.Database | undefined;
  try {
    db = new Database(image);
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (cause) {
    db?.close();
    throw new BargeError(code, `${what} does not open as SQLite: ${(cause as Error).message}`, { cause });
  }
}

/**
 * The database as file bytes: vacuumed (rows packed, no free pages), rollback journal header
 * (in-memory databases never carry WAL bytes), PAGE_SIZE pages. A database opened from an image with
 * another page size is rebuilt table by table, because VACUUM cannot change the page size of an
 * in-memory database (measured with better-sqlite3 12).
 */
export function serializeImage(db: Database.Database): Buffer {
  db.exec('VACUUM');
  const out = db.serialize();
  if (out.readUInt16BE(16) === PAGE_SIZE) return out;
  const copy = rebuild(db);
  try {
    copy.exec('VACUUM');
    return copy.serialize();
  } finally {
    copy.close();
  }
}

/** A copy of `src` with PAGE_SIZE pages: same schema SQL (in creation order), same rows in rowid order. */
function rebuild(src: Database.Database): Database.Database {
  const dst = createImage();
  // Rows are copied table by table in creation order, so a child may come before its parent.
  dst.pragma('foreign_keys = OFF');
  const objects = src
    .prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )
    .all() as { type: string; name: string; sql: string }[];
  dst.transaction(() => {
    for (const o of objects) dst.exec(o.sql);
    for (const o of objects) {
      if (o.type !== 'table') continue;
      const table = `"${o.name.replaceAll('"', '""')}"`;
      const select = src.prepare(`SELECT * FROM ${table} ORDER BY rowid`).raw();
      const columns = select.columns().length;
      const insert = dst.prepare(`INSERT INTO ${table} VALUES (${Array(columns).fill('?').join(', ')})`);
      for (const row of select.iterate()) insert.run(...(row as unknown[]));
    }
  })();
  return dst;
}

/** Every row of the `properties` table (key → value as text), as cvmfs databases keep them. */
export function readProperties(db: Database.Database): Map<string, string> {
  const rows = db.prepare('SELECT key, value FROM properties').all() as { key: unknown; value: unknown }[];
  return new Map(rows.map((r) => [String(r.key), String(r.value)]));
}

/** Sets one property the way cvmfs `SetProperty` does (`INSERT OR REPLACE`). */
export function setProperty(db: Database.Database, key: string, value: string | number): void {
  db.prepare('INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)').run(key, value);
}

/** The `properties` DDL shared by every cvmfs SQLite database (cvmfs `sqlite::Database::Create`). */
export const PROPERTIES_DDL =
  'CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key))';
