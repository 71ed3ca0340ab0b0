import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from '../../catalog/index.js';
import { type LayerPlace, layerError } from './layer-error.js';
import { parsePaxRecords } from './pax-records.js';
import { paxXattrs } from './pax-xattrs.js';
import type { TarHeader } from './tar-header.js';
import { type AbsolutePaths, decodeName, normaliseTarPath } from './tar-path.js';

/** The kinds of entry a layer's tar can hold (sockets cannot be archived by tar). */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** Everything known about one entry from its headers; the content is read separately. */
export interface TarEntryInfo {
  /** Root-relative, '/'-separated, no leading `./` or `/`; '' is the root directory. */
  path: string;
  type: TarEntryType;
  /** Full st_mode: the type bits of `type` (none for a hardlink) and the permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (negative before 1970). */
  mtime: number;
  /** Nanoseconds of mtime when a pax record gave a fraction; null otherwise. */
  mtimeNs: number | null;
  /** Content bytes (regular files only; 0 for the rest). */
  size: number;
  /** Symlink target as stored (any text); hardlink target normalised like `path`; '' otherwise. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from pax SCHILY.xattr.* and LIBARCHIVE.xattr.* records; values are raw bytes. */
  xattrs: Map<string, Buffer>;
  /** Byte offset of the entry's first header in the (uncompressed) tar stream. */
  offset: number;
}

/** An entry's metadata and how many data bytes follow its header in the stream. */
export interface ResolvedEntry {
  info: TarEntryInfo;
  /** Data bytes in the stream, before padding; equal to info.size except for GNU dump directories. */
  dataSize: number;
}

/** pax and GNU long names are buffered whole; 1 MiB is node-tar's limit too, and far above PATH_MAX and XATTR_SIZE_MAX (64 KiB). */
export const META_LIMIT = 1024 * 1024;

const TYPE_BITS: Record<TarEntryType, number> = {
  file: S_IFREG,
  directory: S_IFDIR,
  symlink: S_IFLNK,
  hardlink: 0,
  char: S_IFCHR,
  block: S_IFBLK,
  fifo: S_IFIFO,
};

/**
 * The state between headers: pax global records (`g`, in force until replaced), the pax
 * extended records (`x`) and GNU long name/link (`L`/`K`) waiting for the next real header.
 * resolve() merges them into that header with pax winning, as POSIX pax requires
 * ("Extended header keywords override the header fields").
 */
export class TarMeta {
  private readonly global = new Map<string, Buffer>();
  private local = new Map<string, Buffer>();
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  /** Bytes of metadata waiting for the next entry: bounded as a whole, not only per record. */
  private pendingBytes = 0;

  /** True when metadata is waiting for an entry (an archive may not end there). */
  get pending(): boolean {
    return this.local.size > 0 || this.longName !== undefined || this.longLink !== undefined;
  }

  /** True for the type flags whose body is metadata for the following entry. */
  static isMeta(typeflag: string): boolean {
    return typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K';
  }

  /** Takes the body of a metadata entry. */
  add(typeflag: string, stream: Buffer, place: LayerPlace): void {
    // A copy: a view would keep the whole stream chunk it sits in alive for as long as a value is kept.
    const body = Buffer.from(stream);
    if (typeflag !== 'g') this.pendingBytes += body.length;
    if (this.pendingBytes > META_LIMIT) {
      throw layerError(
        'UNSUPPORTED_ENTRY',
        `pax and long-name records over ${META_LIMIT} bytes for one entry`,
        place,
      );
    }
    if (typeflag === 'x') {
      for (const [key, value] of parsePaxRecords(body, place)) this.local.set(key, value);
    } else if (typeflag === 'g') {
      // An empty value in a global header cancels the keyword (POSIX pax, "pax Extended Header").
      for (const [key, value] of parsePaxRecords(body, place)) {
        if (value.length === 0) this.global.delete(key);
        else this.global.set(key, value);
      }
      let globalBytes = 0;
      for (const [key, value] of this.global) globalBytes += key.length + value.length;
      if (globalBytes > META_LIMIT)
        throw layerError('UNSUPPORTED_ENTRY', `pax global records over ${META_LIMIT} bytes`, place);
    } else if (typeflag === 'L') {
      this.longName = trimNuls(body);
    } else {
      this.longLink = trimNuls(body);
    }
  }

  /** Merges the waiting metadata into `header` and clears it. */
  resolve(header: TarHeader, offset: number, layer: string, absolute: AbsolutePaths): ResolvedEntry {
    try {
      return this.merge(header, offset, layer, absolute);
    } finally {
      this.local = new Map();
      this.longName = undefined;
      this.longLink = undefined;
      this.pendingBytes = 0;
    }
  }

  private merge(header: TarHeader, offset: number, layer: string, absolute: AbsolutePaths): ResolvedEntry {
    const place: LayerPlace = { layer, offset };
    const rawName = this.pax('path') ?? this.longName ?? header.name;
    const name = decodeName(rawName, 'the name', place);
    place.entry = name;
    const type = entryType(header.typeflag, name, place);
    const path = normaliseTarPath(name, 'the name', place, absolute);
    if (path === '' && type !== 'directory') {
      throw layerError('TAR_NAME_INVALID', `a ${type} cannot be the image root`, place);
    }
    for (const key of this.keys()) {
      // GNU tar's pax sparse formats (0.x and 1.0) put the map in GNU.sparse.* records.
      if (key.startsWith('GNU.sparse.')) throw sparse(place);
    }
    let linkname = '';
    if (type === 'symlink' || type === 'hardlink') {
      const raw = this.pax('linkpath') ?? this.longLink ?? header.linkname;
      linkname = decodeName(raw, `the ${type} target`, place);
      if (linkname === '') throw layerError('TAR_LINK_INVALID', `the ${type} has an empty target`, place);
      if (type === 'hardlink') linkname = normaliseTarPath(linkname, 'the hard link target', place, absolute);
    }
    const size = this.paxInteger('size', place) ?? header.size;
    // Only regular files (and GNU dump directories, whose listing is skipped) carry data. POSIX
    // says the others have none; a size there would be read differently by different tools.
    const dataSize = type === 'file' || header.typeflag === 'D' ? size : 0;
    if (dataSize === 0 && size !== 0) {
      throw layerError('LAYER_CORRUPT', `a ${type} entry with a size of ${size} bytes`, place);
    }
    const [mtime, mtimeNs] = this.paxTime('mtime', place) ?? [header.mtime, null];
    return {
      info: {
        path,
        type,
        mode: TYPE_BITS[type] | (header.mode & 0o7777),
        uid: this.paxInteger('uid', place) ?? header.uid,
        gid: this.paxInteger('gid', place) ?? header.gid,
        uname: this.pax('uname')?.toString('utf8') ?? header.uname,
        gname: this.pax('gname')?.toString('utf8') ?? header.gname,
        mtime,
        mtimeNs,
        size: type === 'file' ? size : 0,
        linkname,
        devmajor: this.paxInteger('SCHILY.devmajor', place) ?? header.devmajor,
        devminor: this.paxInteger('SCHILY.devminor', place) ?? header.devminor,
        xattrs: paxXattrs(this.records(), place),
        offset,
      },
      dataSize,
    };
  }

  /** A pax value: the entry's own record, else the global one; an empty local value unsets. */
  private pax(key: string): Buffer | undefined {
    const local = this.local.get(key);
    if (local !== undefined) return local.length === 0 ? undefined : local;
    return this.global.get(key);
  }

  private keys(): Set<string> {
    return new Set([...this.global.keys(), ...this.local.keys()]);
  }

  private paxInteger(key: string, place: LayerPlace): number | undefined {
    const value = this.pax(key)?.toString('latin1');
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n)) {
      throw layerError(
        'LAYER_CORRUPT',
        `pax ${key} record ${JSON.stringify(value)} is not a whole number`,
        place,
      );
    }
    return n;
  }

  /** pax times are decimal seconds with an optional fraction ("1700000000.123456789", "-1.5"). */
  private paxTime(key: string, place: LayerPlace): [number, number | null] | undefined {
    const value = this.pax(key)?.toString('latin1');
    if (value === undefined) return undefined;
    const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(value);
    const whole = Number(m?.[2]);
    if (!m || !Number.isSafeInteger(whole)) {
      throw layerError('LAYER_CORRUPT', `pax ${key} record ${JSON.stringify(value)} is not a time`, place);
    }
    const fraction = m[3];
    const ns = fraction === undefined ? null : Number(fraction.slice(0, 9).padEnd(9, '0'));
    if (m[1] !== '-') return [whole, ns];
    // -1.5 s is 1.5 s before the epoch: second -2 plus 0.5 s.
    return ns ? [-whole - 1, 1e9 - ns] : [-whole, ns];
  }

  /** The effective pax records of this entry: local over global, unset ones left out. */
  private *records(): Generator<[string, Buffer]> {
    for (const key of this.keys()) {
      const value = this.pax(key);
      if (value !== undefined) yield [key, value];
    }
  }
}

function entryType(typeflag: string, name: string, place: LayerPlace): TarEntryType {
  switch (typeflag) {
    case '0':
    case '7': // contiguous file: a regular file everywhere but on old Masscomp systems
      return 'file';
    case '\0': // pre-POSIX regular file; a trailing slash marked a directory
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
    case 'D': // GNU incremental dump directory: a directory whose data lists its contents
      return 'directory';
    case '6':
      return 'fifo';
    case 'S':
      throw sparse(place);
    default:
      throw layerError(
        'UNSUPPORTED_ENTRY',
        `tar entry type ${JSON.stringify(typeflag)} is not one an image layer can hold`,
        place,
      );
  }
}

function sparse(place: LayerPlace) {
  return layerError(
    'UNSUPPORTED_ENTRY',
    'sparse files are not supported (the OCI image spec says layers SHOULD NOT use them)',
    place,
  );
}

function trimNuls(body: Buffer): Buffer {
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end--;
  return body.subarray(0, end);
}
