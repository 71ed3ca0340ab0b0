import { type LayerPlace, layerError } from './layer-error.js';

/**
 * What to do with an absolute member name. Image layers name members `./etc/x` or `etc/x`; an
 * absolute `/etc/x` is read by docker relative to the image root (it cleans the name and joins
 * it to the root) and GNU tar strips the `/` by default, so 'strip' reads it the same way.
 * 'refuse' suits input that should never have one (user tarballs).
 */
export type AbsolutePaths = 'strip' | 'refuse';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A name's bytes as text. A NUL is refused: C tools stop at it and would read another name than
 * we do. Bytes that are not UTF-8 are refused too: decoding them leniently would map distinct
 * names to one and let a later entry silently replace an earlier one.
 */
export function decodeName(bytes: Buffer, what: string, place: LayerPlace): string {
  if (bytes.includes(0)) {
    throw layerError('TAR_NAME_INVALID', `${what} contains a NUL byte`, {
      ...place,
      entry: place.entry ?? bytes.toString('latin1'),
    });
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw layerError('TAR_NAME_INVALID', `${what} is not valid UTF-8`, {
      ...place,
      entry: place.entry ?? bytes.toString('latin1'),
    });
  }
}

/**
 * A member name as a root-relative path: '/'-separated, without `.`, empty segments or a
 * leading `./` or `/`; '' is the root. `..` is resolved lexically, exactly as docker's
 * filepath.Clean does, and refused when it would climb above the root (`../../etc/passwd`,
 * `a/../../b`, `/../etc`): the defence against writing outside the image.
 */
export function normaliseTarPath(
  name: string,
  what: string,
  place: LayerPlace,
  absolute: AbsolutePaths,
): string {
  if (name.length === 0) throw layerError('TAR_NAME_INVALID', `${what} is empty`, place);
  if (name.startsWith('/') && absolute === 'refuse') {
    throw layerError('TAR_PATH_ESCAPE', `${what} ${JSON.stringify(name)} is absolute`, place);
  }
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) {
        throw layerError(
          'TAR_PATH_ESCAPE',
          `${what} ${JSON.stringify(name)} climbs out of the image root`,
          place,
        );
      }
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join('/');
}

/** The parent of a normalised path ('' for a top-level name and for the root). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}
