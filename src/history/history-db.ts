import type Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { type HashText, isHashText } from '../object/index.js';
import { createHistorySchema, upgradeHistorySchema } from './history-schema.js';
import { createImage, openImage, readProperties, serializeImage, setProperty } from './sqlite-image.js';

/** A named root catalog (spec §9.1): what `CVMFS_REPOSITORY_TAG` mounts. */
export interface Tag {
  name: string;
  /** Root catalog hash, no suffix. */
  hash: HashText;
  /** The root catalog's `revision`. */
  revision: number;
  /** The root catalog's `last_modified`, Unix seconds. */
  timestamp: number;
  /** The uncompressed root catalog's size in bytes. */
  size: number;
  description: string;
  /** Always 0 in what cvmfs 2.11+ writes; older databases may hold other channels. */
  channel: number;
  /** '' for trunk, the only branch barge writes. */
  branch: string;
}

/** The fields of a tag barge sets; channel and branch are always 0 and '' (trunk). */
export type TagInput = Omit<Tag, 'channel' | 'branch'>;

/** The tag cvmfs_server moves to the new root catalog on every publish (swissknife_history.cc). */
export const TRUNK = 'trunk';
/** The tag cvmfs_server moves to the previous root catalog on every publish: the default undo target. */
export const TRUNK_PREVIOUS = 'trunk-previous';

const FIELDS = 'name, hash, revision, timestamp, channel, description, size, branch';

/**
 * The history (tag) database of a repository, object `data/…H` (spec §9.1), held in memory and
 * written back with serialize(). Tag semantics are cvmfs_server's: tags are plain rows keyed by
 * name, `trunk` and `trunk-previous` included; channel 0, branch ''.
 */
export class HistoryDb {
  private constructor(
    private readonly db: Database.Database,
    /** The repository the database belongs to (property `fqrn`). */
    readonly fqrn: string,
  ) {
    // cvmfs turns foreign keys on for every writable history (tags.branch → branches).
    db.pragma('foreign_keys = ON');
  }

  /** An empty history database for `fqrn`, schema 1.0 revision 3. */
  static create(fqrn: string): HistoryDb {
    const db = createImage();
    createHistorySchema(db, fqrn);
    return new HistoryDb(db, fqrn);
  }

  /** Opens the uncompressed bytes of a history object; older schema revisions are upgraded to 3. */
  static open(bytes: Uint8Array): HistoryDb {
    const db = openImage(bytes, 'the history database', 'HISTORY_INVALID');
    try {
      return new HistoryDb(db, upgradeHistorySchema(db));
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Hash of the history database of the previous revision (property `previous_revision`), if any. */
  get previousRevision(): HashText | undefined {
    const value = readProperties(this.db).get('previous_revision');
    return value !== undefined && isHashText(value) ? value : undefined;
  }

  /** Records the history object this one replaces, as cvmfs does before every upload. */
  setPreviousRevision(hash: HashText): void {
    if (!isHashText(hash)) throw new BargeError('INVALID_ARGUMENT', `'${hash}' is not a content hash`);
    setProperty(this.db, 'previous_revision', hash);
  }

  /** Every tag, newest first (cvmfs `SqlListTags`: timestamp, then revision, descending). */
  tags(): Tag[] {
    return this.rows(`SELECT ${FIELDS} FROM tags ORDER BY timestamp DESC, revision DESC`);
  }

  /** The tag called `name`, or undefined. */
  getTag(name: string): Tag | undefined {
    return this.rows(`SELECT ${FIELDS} FROM tags WHERE name = ?`, name)[0];
  }

  /** The trunk tag a client with `CVMFS_REPOSITORY_DATE` mounts: highest revision with timestamp ≤ `timestamp`. */
  tagByDate(timestamp: number): Tag | undefined {
    return this.rows(
      `SELECT ${FIELDS} FROM tags WHERE (branch = '') AND (timestamp <= ?) ORDER BY revision DESC LIMIT 1`,
      timestamp,
    )[0];
  }

  /** Creates the tag, or moves it when one of that name exists (cvmfs_server `tag -a`). */
  setTag(tag: TagInput): void {
    const row = checkTag(tag);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM tags WHERE name = ?').run(tag.name);
      this.insert(row);
    })();
  }

  /** Creates the tag; TAG_EXISTS when the name is taken. */
  addTag(tag: TagInput): void {
    const row = checkTag(tag);
    if (this.getTag(tag.name) !== undefined) {
      throw new BargeError('TAG_EXISTS', `tag '${tag.name}' already exists`, {
        hint: 'choose another name, or move the tag explicitly',
      });
    }
    this.insert(row);
  }

  /** Removes the tag; false when there was none (cvmfs `Remove` is idempotent too). */
  removeTag(name: string): boolean {
    return this.db.prepare('DELETE FROM tags WHERE name = ?').run(name).changes > 0;
  }

  /**
   * Points `trunk` at a new root catalog as every cvmfs_server publish does (`UpdateUndoTags`):
   * the old `trunk` becomes `trunk-previous` ("default undo target"), the new one is "current HEAD".
   */
  advanceTrunk(head: Omit<TagInput, 'name' | 'description'>): void {
    const newHead = checkTag({ ...head, name: TRUNK, description: 'current HEAD' });
    this.db.transaction(() => {
      this.removeTag(TRUNK_PREVIOUS);
      const old = this.getTag(TRUNK);
      if (old !== undefined) {
        this.removeTag(TRUNK);
        this.insert({ ...old, name: TRUNK_PREVIOUS, description: 'default undo target' });
      }
      this.insert(newHead);
    })();
  }

  /** The database as the bytes of a rollback-journal SQLite file (compress it for the `H` object). */
  serialize(): Buffer {
    return serializeImage(this.db);
  }

  /** Releases the in-memory database. */
  close(): void {
    this.db.close();
  }

  private insert(tag: TagInput): void {
    this.db
      .prepare(`INSERT INTO tags (${FIELDS}) VALUES (?, ?, ?, ?, 0, ?, ?, '')`)
      .run(tag.name, tag.hash, tag.revision, tag.timestamp, tag.description, tag.size);
  }

  private rows(sql: string, ...params: unknown[]): Tag[] {
    const rows = this.db.prepare(sql).all(...params) as Record<string, unknown>[];
    return rows.map((r) => ({
      name: String(r.name),
      hash: String(r.hash),
      revision: Number(r.revision ?? 0),
      timestamp: Number(r.timestamp ?? 0),
      size: Number(r.size ?? 0),
      description: String(r.description ?? ''),
      channel: Number(r.channel ?? 0),
      branch: String(r.branch ?? ''),
    }));
  }
}

/** Refuses tags cvmfs_server would refuse or that would corrupt the database's meaning. */
function checkTag(tag: TagInput): TagInput {
  // cvmfs_server: "tag names must not contain spaces"; an empty name cannot be addressed.
  if (tag.name === '' || /\s/.test(tag.name)) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `'${tag.name}' is not a tag name (empty, or contains whitespace)`,
    );
  }
  if (!isHashText(tag.hash)) {
    throw new BargeError('INVALID_ARGUMENT', `tag '${tag.name}': '${tag.hash}' is not a content hash`);
  }
  for (const field of ['revision', 'timestamp', 'size'] as const) {
    const v = tag[field];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new BargeError(
        'INVALID_ARGUMENT',
        `tag '${tag.name}': ${field} ${v} is not a non-negative integer`,
      );
    }
  }
  return {
    name: tag.name,
    hash: tag.hash,
    revision: tag.revision,
    timestamp: tag.timestamp,
    size: tag.size,
    description: tag.description,
  };
}
