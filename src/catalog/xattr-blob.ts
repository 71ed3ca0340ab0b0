import { BargeError } from '../error/index.js';

/** Most attributes and bytes per key or value that the one-byte length fields allow (spec §6.6). */
export const XATTR_LIMITS = { count: 255, keyBytes: 255, valueBytes: 255 } as const;

/**
 * Serialises xattrs as the client reads them: version 1, count, then per entry key length, value
 * length, key, value, keys in bytewise order (std::map). Returns null for none: the client takes
 * `xattr IS NOT NULL` as "has xattrs", so an empty blob is never written.
 */
export function encodeXattrs(xattrs: ReadonlyMap<string, Uint8Array> | null, where = ''): Buffer | null {
  if (!xattrs || xattrs.size === 0) return null;
  const entries = [...xattrs].map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v)] as const);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  if (entries.length > XATTR_LIMITS.count) {
    throw new BargeError(
      'UNSUPPORTED_ENTRY',
      `${where} has ${entries.length} xattrs; CVMFS stores at most 255`,
    );
  }
  const parts: Buffer[] = [Buffer.from([1, entries.length])];
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > XATTR_LIMITS.keyBytes || k.includes(0)) {
      throw new BargeError('UNSUPPORTED_ENTRY', `${where}: xattr name '${k}' cannot be stored in CVMFS`, {
        hint: 'names must be 1–255 bytes without NUL',
      });
    }
    if (v.length > XATTR_LIMITS.valueBytes) {
      throw new BargeError(
        'UNSUPPORTED_ENTRY',
        `${where}: xattr '${k}' has ${v.length} bytes; CVMFS stores at most 255`,
        {
          hint: 'shorten the attribute value or drop it before publishing',
        },
      );
    }
    parts.push(Buffer.from([k.length, v.length]), k, v);
  }
  return Buffer.concat(parts);
}

/** Deserialises like the client: other versions and zero-length keys give no xattrs; trailing bytes are ignored. */
export function decodeXattrs(blob: Uint8Array | null): Map<string, Buffer> | null {
  if (!blob || blob.length < 2 || blob[0] !== 1) return null;
  const count = blob[1] as number;
  const out = new Map<string, Buffer>();
  let p = 2;
  for (let i = 0; i < count; i++) {
    if (p + 2 > blob.length) return null;
    const kl = blob[p] as number;
    const vl = blob[p + 1] as number;
    p += 2;
    if (kl === 0 || p + kl + vl > blob.length) return null;
    const key = Buffer.from(blob.subarray(p, p + kl)).toString('utf8');
    out.set(key, Buffer.from(blob.subarray(p + kl, p + kl + vl)));
    p += kl + vl;
  }
  return out.size > 0 ? out : null;
}
