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
  UNSUPPORTED_ENTRY: 400,
  REPO_NOT_FOUND: 404,
  OBJECT_NOT_FOUND: 404,
  TAG_NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  SOURCE_NOT_FOUND: 404,
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
