import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { validateFqrn } from '../repository/index.js';
import { ALL_GROUPS, validateGroup } from './token-authorize.js';
import { hashSecret, newToken, parseToken } from './token-text.js';

/** What a token may do: publish into its group, or also manage pins and tokens. */
export type TokenScope = 'publish' | 'admin';

/** A verified token: who it is, not its secret. */
export interface TokenInfo {
  id: string;
  /** The group it publishes into; `*` (admin tokens only) for every group. */
  group: string;
  scope: TokenScope;
  /** The one repository it may act on, or null for any. */
  repository: string | null;
  /** null: never expires. */
  expiresAt: Date | null;
  createdAt: Date;
}

/** A token as `list` shows it: its info plus bookkeeping, never the secret. */
export interface TokenRecord extends TokenInfo {
  note: string;
  /** The last successful verify, to the minute; null when never used. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What `create` needs. */
export interface TokenSpec {
  /** A group name, or `*` for an admin token over every group. */
  group: string;
  /** Default 'publish'. */
  scope?: TokenScope;
  /** Default null (never). Must be in the future. */
  expiresAt?: Date | null;
  /** Free text for operators (who holds it, what for); up to 200 printable characters. */
  note?: string;
  /** Limits the token to one repository; default null (any). */
  repository?: string | null;
}

/** A created token: its info and the token text, which is shown this once and never stored. */
export interface CreatedToken extends TokenInfo {
  token: string;
}

/** last_used_at is written at most this often per token, so verify is a write only once a minute. */
const TOUCH_INTERVAL_MS = 60_000;

/** Compared against when the id is unknown, so that an unknown id costs what a wrong secret costs. */
const NO_HASH = Buffer.alloc(32);

interface Row {
  id: string;
  secret_sha256: Buffer;
  group_name: string;
  scope: TokenScope;
  repository: string | null;
  note: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** The token database of a data directory: `<dataDir>/usercode/tokens.db` (beside repos/, keys/ and state/, where no repository name can clash). */
export function tokenStorePath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'usercode', 'tokens.db');
}

/**
 * The bearer tokens of the user code API, in SQLite (WAL, so the server verifies while the CLI
 * creates or revokes). Only a SHA-256 of each secret is kept; verify reads the row on every call,
 * so a revocation takes effect on the next request of every process.
 */
export class TokenStore {
  private readonly db: Database.Database;
  private readonly byId: Database.Statement<[string], Row>;
  private readonly touchRow: Database.Statement<[number, string, number]>;

  constructor(dataDir: string) {
    const file = tokenStorePath(dataDir);
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = WAL');
      // The CLI and the server write the same file; wait for the other's short write, don't fail.
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY,
        secret_sha256 BLOB NOT NULL,
        group_name TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('publish', 'admin')),
        repository TEXT,
        note TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER
      ) STRICT`);
      this.byId = this.db.prepare<[string], Row>('SELECT * FROM tokens WHERE id = ?');
      this.touchRow = this.db.prepare<[number, string, number]>(
        'UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
      );
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** Creates a token; the returned `token` text is the only copy of its secret. */
  create(spec: TokenSpec, now: Date = new Date()): CreatedToken {
    const scope = spec.scope ?? 'publish';
    if (scope !== 'publish' && scope !== 'admin') {
      throw new BargeError('INVALID_ARGUMENT', `'${scope}' is not a token scope`, {
        hint: 'use publish or admin',
      });
    }
    if (spec.group === ALL_GROUPS) {
      if (scope !== 'admin') {
        throw new BargeError('INVALID_ARGUMENT', `only admin tokens may have group '${ALL_GROUPS}'`, {
          hint: 'name the group the token publishes into',
        });
      }
    } else validateGroup(spec.group);
    const repository = spec.repository == null ? null : validateFqrn(spec.repository);
    const expiresAt = spec.expiresAt ?? null;
    if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) {
      throw new BargeError('INVALID_ARGUMENT', 'a token must expire in the future', {
        hint: 'give a later expiry, or none',
      });
    }
    const note = spec.note ?? '';
    // Notes are printed in `barge token ls`; control characters could forge lines there.
    if (note.length > 200 || /\p{Cc}/u.test(note)) {
      throw new BargeError(
        'INVALID_ARGUMENT',
        'a token note is at most 200 characters, without control characters',
      );
    }
    const t = newToken();
    this.db
      .prepare(
        `INSERT INTO tokens (id, secret_sha256, group_name, scope, repository, note, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        t.id,
        hashSecret(t.secret),
        spec.group,
        scope,
        repository,
        note,
        now.getTime(),
        expiresAt?.getTime() ?? null,
      );
    return { id: t.id, group: spec.group, scope, repository, expiresAt, createdAt: now, token: t.text };
  }

  /**
   * Who presents `tokenText`, or why not: TOKEN_MISSING (none), TOKEN_INVALID (malformed, unknown
   * id or wrong secret, one message for all three so that ids cannot be probed), then, only for
   * the right secret, TOKEN_REVOKED or TOKEN_EXPIRED. Records the use (at most once a minute).
   */
  verify(tokenText: string | undefined, now: Date = new Date()): TokenInfo {
    if (tokenText === undefined || tokenText === '') {
      throw new BargeError('TOKEN_MISSING', 'this request needs a bearer token', {
        hint: "send 'Authorization: Bearer <token>'; an administrator creates one with barge token create",
      });
    }
    const parts = parseToken(tokenText);
    const row = parts === undefined ? undefined : this.byId.get(parts.id);
    // Hash and compare whether or not the id exists: both paths cost the same.
    const matches = timingSafeEqual(hashSecret(parts?.secret ?? ''), row?.secret_sha256 ?? NO_HASH);
    if (row === undefined || !matches) {
      throw new BargeError('TOKEN_INVALID', 'the bearer token is not valid', {
        hint: 'check that the whole token was sent, or ask an administrator for a new one',
      });
    }
    if (row.revoked_at !== null) {
      throw new BargeError('TOKEN_REVOKED', `token ${row.id} was revoked`, {
        hint: 'ask an administrator for a new token',
      });
    }
    if (row.expires_at !== null && now.getTime() >= row.expires_at) {
      throw new BargeError(
        'TOKEN_EXPIRED',
        `token ${row.id} expired at ${new Date(row.expires_at).toISOString()}`,
        {
          hint: 'ask an administrator for a new token',
        },
      );
    }
    this.touch(row, now);
    return infoOf(row);
  }

  /** Revokes a token for good; false when it already was. TOKEN_NOT_FOUND for an unknown id. */
  revoke(id: string, now: Date = new Date()): boolean {
    const r = this.db
      .prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now.getTime(), id);
    if (r.changes > 0) return true;
    if (this.byId.get(id) === undefined) {
      throw new BargeError('TOKEN_NOT_FOUND', `there is no token ${id}`, {
        hint: 'barge token ls lists them',
      });
    }
    return false;
  }

  /** One token, without its secret; undefined for an unknown id. */
  get(id: string): TokenRecord | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : recordOf(row);
  }

  /** Every token, oldest first, revoked and expired ones included; never a secret. */
  list(): TokenRecord[] {
    const rows = this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as Row[];
    return rows.map(recordOf);
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }

  /**
   * Records a use when the last one is a minute old or more: a write per request would serialise
   * every request on the database lock. A failed write (the database busy past the timeout,
   * or read-only to this process) does not refuse a valid token: the record is only bookkeeping.
   */
  private touch(row: Row, now: Date): void {
    const t = now.getTime();
    if (row.last_used_at !== null && t - row.last_used_at < TOUCH_INTERVAL_MS) return;
    try {
      this.touchRow.run(t, row.id, t - TOUCH_INTERVAL_MS);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !/^SQLITE_(BUSY|READONLY)/.test(code)) throw err;
    }
  }
}

function infoOf(row: Row): TokenInfo {
  return {
    id: row.id,
    group: row.group_name,
    scope: row.scope,
    repository: row.repository,
    expiresAt: dateOrNull(row.expires_at),
    createdAt: new Date(row.created_at),
  };
}

function recordOf(row: Row): TokenRecord {
  return {
    ...infoOf(row),
    note: row.note,
    lastUsedAt: dateOrNull(row.last_used_at),
    revokedAt: dateOrNull(row.revoked_at),
  };
}

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}
