import { type LayerPlace, layerError } from './layer-error.js';
import { parentOf } from './tar-path.js';

/** Marks a deletion: `<dir>/.wh.<name>` removes `<dir>/<name>` of the layers below (OCI image spec, layer.md "Whiteouts"). */
export const WHITEOUT_PREFIX = '.wh.';
/** AUFS's own metadata (`.wh..wh.plnk`, `.wh..wh.aufs`, `.wh..wh.orph`): not part of the image; skipped. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** Marks a directory opaque: `<dir>/.wh..wh..opq` hides everything below `<dir>` in the layers below ("Opaque Whiteout"). */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

/** What a layer path means for the union of layers. */
export type WhiteoutMark =
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string }
  | { kind: 'meta' }
  | { kind: 'entry' };

/**
 * Classifies a normalised layer path. The spec forbids real names starting with `.wh.` ("it is
 * not possible to create a filesystem which has a file or directory with a name beginning with
 * .wh."), so a marker used as a directory is refused; a whiteout of `.`, `..` or of nothing
 * would delete a parent or the root and is refused too.
 */
export function whiteoutMark(path: string, place: LayerPlace): WhiteoutMark {
  if (!path.includes(WHITEOUT_PREFIX)) return { kind: 'entry' };
  const parts = path.split('/');
  const base = parts.pop()!;
  for (const part of parts) {
    if (part.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
    if (part.startsWith(WHITEOUT_PREFIX)) {
      throw layerError(
        'TAR_NAME_INVALID',
        `whiteout marker ${JSON.stringify(part)} is used as a directory`,
        place,
      );
    }
  }
  if (base === WHITEOUT_OPAQUE) return { kind: 'opaque', path: parentOf(path) };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'entry' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    throw layerError('TAR_NAME_INVALID', `whiteout ${JSON.stringify(base)} names no entry`, place);
  }
  const dir = parentOf(path);
  return { kind: 'whiteout', path: dir === '' ? name : `${dir}/${name}` };
}
