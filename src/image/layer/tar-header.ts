import { type LayerPlace, layerError } from './layer-error.js';

/** Tar works in 512-byte blocks: headers are one block, data is padded to a whole number of them. */
export const BLOCK_SIZE = 512;

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

/** The header format, from the magic field: POSIX ustar (and pax), GNU, or pre-POSIX v7 (no magic). */
export type TarFormat = 'ustar' | 'gnu' | 'v7';

/** One 512-byte header, decoded but not yet merged with pax records or GNU long names. */
export interface TarHeader {
  /** Name bytes up to the first NUL; ustar's prefix is already joined in front. */
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** The type flag byte as a one-character string ('\0' for old regular files). */
  typeflag: string;
  linkname: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  format: TarFormat;
}

/** True for an all-zero block: two of them end an archive. */
export function isZeroBlock(block: Buffer): boolean {
  return block.equals(ZERO_BLOCK);
}

/**
 * Decodes one header block (POSIX.1-1988 ustar layout, as extended by GNU), verifying its
 * checksum first, so that a corrupt or misaligned stream is refused instead of being read as
 * garbage entries.
 */
export function parseTarHeader(block: Buffer, place: LayerPlace): TarHeader {
  verifyChecksum(block, place);
  // As Go's archive/tar: "ustar\0" is POSIX whatever its version bytes, "ustar  \0" is GNU.
  const magic = block.toString('latin1', 257, 265);
  const format: TarFormat = magic.startsWith('ustar\u0000')
    ? 'ustar'
    : magic === 'ustar  \u0000'
      ? 'gnu'
      : 'v7';
  let name = cString(block, 0, 100);
  // Only POSIX ustar has a prefix field (131 bytes in star's variant, which ends the block with
  // "tar\0"); GNU keeps atime/ctime and sparse maps in that space.
  if (format === 'ustar') {
    const star = block.toString('latin1', 508, 512) === 'tar\u0000';
    const prefix = cString(block, 345, star ? 476 : 500);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const hasOwners = format !== 'v7';
  return {
    name,
    mode: numeric(block, 100, 108, 'mode', place),
    uid: numeric(block, 108, 116, 'uid', place),
    gid: numeric(block, 116, 124, 'gid', place),
    size: numeric(block, 124, 136, 'size', place),
    mtime: numeric(block, 136, 148, 'mtime', place, true),
    typeflag: String.fromCharCode(block[156]!),
    linkname: cString(block, 157, 257),
    uname: hasOwners ? cString(block, 265, 297).toString('utf8') : '',
    gname: hasOwners ? cString(block, 297, 329).toString('utf8') : '',
    devmajor: hasOwners ? numeric(block, 329, 337, 'devmajor', place) : 0,
    devminor: hasOwners ? numeric(block, 337, 345, 'devminor', place) : 0,
    format,
  };
}

/** Bytes of a NUL-terminated field (the whole field when it has no NUL). */
function cString(block: Buffer, start: number, end: number): Buffer {
  const nul = block.indexOf(0, start);
  return block.subarray(start, nul === -1 || nul > end ? end : nul);
}

// The checksum is the sum of all header bytes with the checksum field read as eight spaces.
// Historic tars summed signed chars; both sums are accepted, as GNU tar and Go's archive/tar do.
function verifyChecksum(block: Buffer, place: LayerPlace): void {
  const stored = numeric(block, 148, 156, 'checksum', place);
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    if (i === 148) i = 156;
    const byte = block[i]!;
    unsigned += byte;
    signed += byte < 0x80 ? byte : byte - 0x100;
  }
  if (stored !== unsigned && stored !== signed) {
    throw layerError(
      'LAYER_CORRUPT',
      `bad tar header checksum (stored ${stored}, computed ${unsigned})`,
      place,
    );
  }
}

/**
 * A numeric field: octal digits ended by a space or NUL, or GNU/star base-256 when the first
 * byte's top bit is set (big-endian two's complement, the next bit being the sign), which is how
 * sizes over 8 GiB, uids over 2097151 and times before 1970 are stored without pax.
 */
function numeric(
  block: Buffer,
  start: number,
  end: number,
  field: string,
  place: LayerPlace,
  signed = false,
): number {
  const first = block[start]!;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let value = 0n;
    for (let i = start; i < end; i++) {
      let byte = block[i]!;
      if (negative) byte ^= 0xff;
      if (i === start) byte &= 0x7f;
      value = (value << 8n) | BigInt(byte);
    }
    if (negative) value = -value - 1n;
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw layerError('LAYER_CORRUPT', `base-256 ${field} field is out of range`, place);
    }
    if (negative && !signed) throw layerError('LAYER_CORRUPT', `negative ${field} field`, place);
    return Number(value);
  }
  let i = start;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) {
      throw layerError('LAYER_CORRUPT', `${field} field is not an octal number`, place);
    }
    value = value * 8 + (c - 0x30);
  }
  return value;
}
