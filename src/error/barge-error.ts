/**
 * The closed set of error codes barge reports. Scripts and the HTTP API rely on these strings;
 * add new ones, never rename.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_FQRN'
  | 'INVALID_PATH'
  | 'REPO_NOT_FOUND'
  | 'REPO_EXISTS'
  | 'REPO_LOCKED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_UNREADABLE'
  | 'SOURCE_CHANGED'
  | 'UNSUPPORTED_ENTRY'
  | 'DISK_FULL'
  | 'IO_ERROR'
  | 'OBJECT_NOT_FOUND'
  | 'OBJECT_CORRUPT'
  | 'CATALOG_INVALID'
  | 'MANIFEST_INVALID'
  | 'SIGNATURE_INVALID'
  | 'WHITELIST_INVALID'
  | 'WHITELIST_EXPIRED'
  | 'CERTIFICATE_NOT_LISTED'
  | 'CERTIFICATE_INVALID'
  | 'MANIFEST_OUTDATED'
  | 'KEY_NOT_FOUND'
  | 'KEY_INVALID'
  | 'KEY_EXISTS'
  | 'HISTORY_INVALID'
  | 'REFLOG_INVALID'
  | 'FQRN_MISMATCH'
  | 'TAG_NOT_FOUND'
  | 'TAG_EXISTS'
  | 'FETCH_FAILED'
  | 'LISTEN_FAILED'
  | 'FSCK_FAILED'
  | 'TAR_PATH_ESCAPE'
  | 'TAR_SYMLINK_PARENT'
  | 'TAR_LINK_INVALID'
  | 'TAR_NAME_INVALID'
  | 'LAYER_CORRUPT'
  | 'BLOB_NOT_FOUND'
  | 'BLOB_DIGEST_MISMATCH'
  | 'IMAGE_INVALID'
  | 'IMAGE_NOT_FOUND'
  | 'TOOL_NOT_FOUND'
  | 'NATIVE_ADDON_UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'IMAGE_REFERENCE_INVALID'
  | 'IMAGE_MANIFEST_INVALID'
  | 'IMAGE_MANIFEST_UNSUPPORTED'
  | 'PLATFORM_NOT_FOUND'
  | 'BLOB_SIZE_MISMATCH'
  | 'REGISTRY_UNAUTHORIZED'
  | 'REGISTRY_NOT_FOUND'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_RATE_LIMITED'
  | 'REGISTRY_PROTOCOL_ERROR'
  | 'REGISTRY_CREDENTIALS_INVALID'
  | 'TOKEN_MISSING'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'TOKEN_NOT_FOUND'
  | 'FORBIDDEN'
  | 'TARBALL_TOO_LARGE'
  | 'TARBALL_MEMBER_TOO_LARGE'
  | 'TARBALL_TOO_MANY_ENTRIES'
  | 'TARBALL_PATH_TOO_LONG'
  | 'TARBALL_BOMB'
  | 'TARBALL_INVALID'
  | 'TARBALL_UNSUPPORTED_ENTRY'
  | 'UPLOAD_DIGEST_MISMATCH'
  | 'UPLOAD_NOT_FOUND'
  | 'OBJECT_COLLECTED'
  | 'LEDGER_INCOMPLETE'
  | 'LEDGER_MISMATCH'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_DENIED'
  | 'STORAGE_BUCKET_NOT_FOUND'
  | 'STORAGE_PROTOCOL_ERROR'
  | 'RUNTIME_NOT_FOUND'
  | 'RUNTIME_FAILED'
  | 'REPO_IS_REPLICA';

export interface BargeErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable context (paths, hashes) for logs and JSON output. */
  details?: Record<string, unknown>;
}

/** The one error class of barge: a stable code, a message saying what was wrong, a hint saying what to do. */
export class BargeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BargeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BargeError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** True when `err` is a BargeError, optionally with the given code. */
export function isBargeError(err: unknown, code?: ErrorCode): err is BargeError {
  return err instanceof BargeError && (code === undefined || err.code === code);
}

/** The errno code of a Node system error (`ENOENT`...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
