import { BargeError, type ErrorCode } from '../../error/index.js';

/** Where in a layer something went wrong: the layer (digest or file name), the entry, the header's offset. */
export interface LayerPlace {
  layer: string;
  entry?: string;
  offset?: number;
}

// What an operator can do, per code. Hostile entries are never "fixed" by retrying: the image is refused.
const HINTS: Partial<Record<ErrorCode, string>> = {
  TAR_PATH_ESCAPE:
    'the image is malformed or malicious; it cannot be published. Rebuild it from a trusted base',
  TAR_SYMLINK_PARENT:
    'the image writes through a symlink, which could escape its root; rebuild it so that the layer replaces the symlink first',
  TAR_LINK_INVALID:
    'hard links must point to an earlier entry of the same layer; rebuild the image with a standard tool (docker, buildah, umoci)',
  TAR_NAME_INVALID: 'the image has a name barge cannot store safely; rebuild it without that entry',
  LAYER_CORRUPT: 'fetch or export the image again; if it persists, the image is damaged at its source',
  UNSUPPORTED_ENTRY: 'rebuild the image without this entry (e.g. copy sparse files with --sparse=never)',
};

/** A BargeError whose message names the layer and the entry, so the operator can find the bad input. */
export function layerError(
  code: ErrorCode,
  what: string,
  place: LayerPlace,
  options: { hint?: string; cause?: unknown } = {},
): BargeError {
  const entry = place.entry === undefined ? '' : `, entry ${JSON.stringify(place.entry)}`;
  const at = place.offset === undefined ? '' : ` (tar header at byte ${place.offset})`;
  return new BargeError(code, `layer ${place.layer}${entry}: ${what}${at}`, {
    hint: options.hint ?? HINTS[code],
    cause: options.cause,
    details: { ...place },
  });
}
