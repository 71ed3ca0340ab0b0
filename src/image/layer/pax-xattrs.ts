import { type LayerPlace, layerError } from './layer-error.js';

const SCHILY = 'SCHILY.xattr.';
const LIBARCHIVE = 'LIBARCHIVE.xattr.';

/**
 * Extended attributes from an entry's pax records, values as raw bytes (NULs included):
 * `SCHILY.xattr.<name>=<raw bytes>` (star, GNU tar, Go's archive/tar) and
 * `LIBARCHIVE.xattr.<url-encoded name>=<base64>` (bsdtar, which writes both); libarchive's
 * value wins when both name one attribute, as libarchive itself reads them.
 */
export function paxXattrs(records: Iterable<[string, Buffer]>, place: LayerPlace): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  const fromLibarchive = new Set<string>();
  for (const [key, value] of records) {
    if (key.startsWith(LIBARCHIVE)) {
      const name = xattrName(key.slice(LIBARCHIVE.length), place);
      const text = value.toString('latin1');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
        throw layerError('LAYER_CORRUPT', `xattr ${name} has a value that is not base64`, place);
      }
      xattrs.set(name, Buffer.from(text, 'base64'));
      fromLibarchive.add(name);
    } else if (key.startsWith(SCHILY)) {
      const name = xattrName(key.slice(SCHILY.length), place);
      if (!fromLibarchive.has(name)) xattrs.set(name, Buffer.from(value));
    }
  }
  return xattrs;
}

/**
 * An attribute name from a pax keyword. GNU tar percent-encodes '%' and '=' in SCHILY names and
 * libarchive more than that, and both decode when reading; so do we. Decoding works on bytes,
 * so an encoded UTF-8 name comes out whole.
 */
function xattrName(encoded: string, place: LayerPlace): string {
  const bytes = Buffer.from(encoded, 'utf8');
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = bytes[i]!;
    }
  }
  const name = out.toString('utf8', 0, n);
  if (name === '' || name.includes('\0')) {
    throw layerError('LAYER_CORRUPT', `xattr name ${JSON.stringify(encoded)} is empty or has a NUL`, place);
  }
  return name;
}
