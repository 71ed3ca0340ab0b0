import { BargeError, type ErrorCode, isBargeError } from '../error/index.js';

/** Where in an upload something went wrong: its label, and the member when one is known. */
export interface TarballPlace {
  label: string;
  entry?: string;
  offset?: number;
}

// What the uploader can do, per code. Every refusal leaves the repository as it was.
const HINTS: Partial<Record<ErrorCode, string>> = {
  TAR_PATH_ESCAPE:
    'pack the tarball with paths relative to its top directory (tar -czf code.tgz -C dir .); nothing was published',
  TAR_SYMLINK_PARENT:
    'a member is written through a symlink, which could leave the upload; pack the real directory instead; nothing was published',
  TAR_LINK_INVALID:
    'hard links must point to an earlier file of the same tarball; pack with GNU tar or bsdtar; nothing was published',
  TAR_NAME_INVALID: 'rename or leave out that member and upload again; nothing was published',
  LAYER_CORRUPT: 'the upload is damaged or was cut short; upload it again; nothing was published',
  UNSUPPORTED_ENTRY: 'pack the tarball without that member (e.g. copy sparse files with --sparse=never)',
  TARBALL_TOO_LARGE: 'split the code into smaller tarballs, or ask the operator to raise maxTarballBytes',
  TARBALL_MEMBER_TOO_LARGE:
    'large data does not belong in a code tarball: put it in data storage, or ask the operator to raise maxMemberBytes',
  TARBALL_TOO_MANY_ENTRIES: 'pack fewer files (e.g. leave out build directories and .git)',
  TARBALL_PATH_TOO_LONG: 'shorten the directory structure or the names inside the tarball',
  TARBALL_BOMB:
    'the upload inflates far more than any code tarball does; if it is genuine, ask the operator to raise maxRatio',
  TARBALL_INVALID: 'upload a tar archive, plain or compressed (e.g. made with tar -czf)',
  TARBALL_UNSUPPORTED_ENTRY:
    'device nodes and FIFOs are not published from user tarballs; pack the tarball without them',
};

/** A BargeError whose message names the upload and the member, so the uploader can find the bad input. */
export function tarballError(
  code: ErrorCode,
  what: string,
  place: TarballPlace,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): BargeError {
  const entry = place.entry === undefined ? '' : `, entry ${JSON.stringify(place.entry)}`;
  const at = place.offset === undefined ? '' : ` (tar header at byte ${place.offset})`;
  return new BargeError(code, `tarball ${place.label}${entry}: ${what}${at}`, {
    hint: HINTS[code],
    cause: options.cause,
    details: { tarball: place.label, ...pick(place), ...options.details },
  });
}

/**
 * An error of the layer reader (which names a "layer" and gives hints about images) told in
 * upload terms. The layer reader's message is `layer <label>...`; only that prefix changes, so
 * the rest (the member, the byte offset, what was wrong) reads as the reader wrote it. A failure
 * on the very first header means the input was never a tar at all.
 */
export function asTarballError(err: unknown, label: string): unknown {
  if (!isBargeError(err)) return err;
  const prefix = `layer ${label}`;
  if (!err.message.startsWith(prefix)) return err;
  const offset = err.details?.offset;
  const entry = err.details?.entry;
  if (err.code === 'LAYER_CORRUPT' && offset === 0 && entry === undefined) {
    return tarballError(
      'TARBALL_INVALID',
      'is not a tar archive, plain or compressed',
      { label },
      { cause: err },
    );
  }
  return new BargeError(err.code, `tarball ${label}${err.message.slice(prefix.length)}`, {
    hint: HINTS[err.code] ?? err.hint,
    cause: err,
    details: {
      tarball: label,
      ...(typeof entry === 'string' ? { entry } : {}),
      ...(typeof offset === 'number' ? { offset } : {}),
    },
  });
}

function pick(place: TarballPlace): Record<string, unknown> {
  return {
    ...(place.entry === undefined ? {} : { entry: place.entry }),
    ...(place.offset === undefined ? {} : { offset: place.offset }),
  };
}
