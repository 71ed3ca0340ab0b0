import { BargeError, type ErrorCode } from '../error/index.js';

/**
 * The one table from error codes to HTTP statuses. Partial on purpose: a code added elsewhere
 * answers 500 until it is listed here, instead of breaking the build of every other module.
 */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_FQRN: 400,
  INVALID_PATH: 400,
  TAR_PATH_ESCAPE: 400,
  TAR_SYMLINK_PARENT: 400,
  TAR_LINK_INVALID: 400,
  TAR_NAME_INVALID: 400,
  UNSUPPORTED_ENTRY: 400,
  IMAGE_REFERENCE_INVALID: 400,
  IMAGE_MANIFEST_INVALID: 422,
  IMAGE_MANIFEST_UNSUPPORTED: 422,
  LAYER_CORRUPT: 422,
  REPO_NOT_FOUND: 404,
  OBJECT_NOT_FOUND: 404,
  TAG_NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  SOURCE_NOT_FOUND: 404,
  IMAGE_NOT_FOUND: 404,
  PLATFORM_NOT_FOUND: 404,
  REGISTRY_NOT_FOUND: 404,
  REGISTRY_UNAUTHORIZED: 401,
  REGISTRY_CREDENTIALS_INVALID: 401,
  REGISTRY_RATE_LIMITED: 429,
  REGISTRY_UNAVAILABLE: 502,
  REGISTRY_PROTOCOL_ERROR: 502,
  BLOB_DIGEST_MISMATCH: 502,
  BLOB_SIZE_MISMATCH: 502,
  REPO_EXISTS: 409,
  TAG_EXISTS: 409,
  KEY_EXISTS: 409,
  REPO_LOCKED: 409,
  SOURCE_CHANGED: 409,
  FETCH_FAILED: 502,
  NOT_IMPLEMENTED: 501,
  DISK_FULL: 507,
};

/** The HTTP status that answers `err`: its code's entry, else 500. */
export function statusForError(err: unknown): number {
  return err instanceof BargeError ? (STATUS[err.code] ?? 500) : 500;
}
