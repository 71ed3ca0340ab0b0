/**
 * Writes tar archives byte by byte for tests, including what real tools refuse to write: `..`
 * names, NULs inside pax paths, hard links out of the root, bad checksums, base-256 numbers.
 * Each member is laid out as POSIX ustar (or GNU, or v7) says, with optional pax `x`/`g` and GNU
 * `L`/`K` records before it.
 */

/** One member, as its header will say it. */
export interface TarMember {
  name: string | Buffer;
  /** The type flag: '0' file (default), '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, 'S'... */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  content?: Buffer | string;
  /** The header's size field; defaults to the content's length. */
  size?: number;
  linkname?: string | Buffer;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** ustar's prefix field (ustar format only). */
  prefix?: string;
  format?: 'ustar' | 'gnu' | 'v7';
  /** Numeric fields to write in base-256 (GNU) instead of octal. */
  base256?: Array<'uid' | 'gid' | 'size' | 'mtime'>;
  /** A checksum to store instead of the right one. */
  checksum?: number;
  /** pax extended records to put in an `x` header before the member. */
  pax?: Record<string, string | Buffer>;
  /** GNU long name / long link records (`L`, `K`) to put before the member. */
  gnuLongName?: string | Buffer;
  gnuLongLink?: string | Buffer;
}

const BLOCK = 512;

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** A whole archive: the members, then (unless end is false) the end blocks. */
export function buildTar(members: TarMember[], options: { end?: boolean } = {}): Buffer {
  return Buffer.concat([...members.map(tarMember), options.end === false ? Buffer.alloc(0) : TAR_END]);
}

/** One member with its pax / long-name records, header, content and padding. */
export function tarMember(member: TarMember): Buffer {
  const parts: Buffer[] = [];
  if (member.pax) parts.push(metaMember('x', 'PaxHeader', paxRecords(member.pax)));
  if (member.gnuLongLink !== undefined)
    parts.push(metaMember('K', '././@LongLink', nulTerminated(member.gnuLongLink)));
  if (member.gnuLongName !== undefined)
    parts.push(metaMember('L', '././@LongLink', nulTerminated(member.gnuLongName)));
  const content =
    typeof member.content === 'string' ? Buffer.from(member.content) : (member.content ?? Buffer.alloc(0));
  parts.push(tarHeader({ ...member, size: member.size ?? content.length }), padded(content));
  return Buffer.concat(parts);
}

/** A pax global header (`g`) member. */
export function paxGlobal(records: Record<string, string | Buffer>): Buffer {
  return metaMember('g', 'GlobalHead', paxRecords(records));
}

/** pax records, `<len> <key>=<value>\n` with len counting itself. */
export function paxRecords(records: Record<string, string | Buffer>): Buffer {
  return Buffer.concat(
    Object.entries(records).map(([key, value]) => {
      const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
      let length = body.length + 1;
      while (String(length).length + body.length !== length) length++;
      return Buffer.concat([Buffer.from(String(length)), body]);
    }),
  );
}

/** One 512-byte header. */
export function tarHeader(member: TarMember): Buffer {
  const block = Buffer.alloc(BLOCK);
  const format = member.format ?? 'ustar';
  const base256 = new Set(member.base256 ?? []);
  Buffer.from(member.name).copy(block, 0, 0, 100);
  octal(block, 100, 8, member.mode ?? 0o644);
  numeric(block, 108, 8, member.uid ?? 0, base256.has('uid'));
  numeric(block, 116, 8, member.gid ?? 0, base256.has('gid'));
  numeric(block, 124, 12, member.size ?? 0, base256.has('size'));
  numeric(block, 136, 12, member.mtime ?? 1_700_000_000, base256.has('mtime'));
  block.write(member.type ?? '0', 156, 'latin1');
  if (member.linkname !== undefined) Buffer.from(member.linkname).copy(block, 157, 0, 100);
  if (format !== 'v7') {
    block.write(format === 'ustar' ? 'ustar\u000000' : 'ustar  \u0000', 257, 'latin1');
    block.write(member.uname ?? 'root', 265, 32, 'utf8');
    block.write(member.gname ?? 'root', 297, 32, 'utf8');
    octal(block, 329, 8, member.devmajor ?? 0);
    octal(block, 337, 8, member.devminor ?? 0);
  }
  if (format === 'ustar' && member.prefix !== undefined) block.write(member.prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${(member.checksum ?? sum).toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function metaMember(type: string, name: string, body: Buffer): Buffer {
  return Buffer.concat([tarHeader({ name, type, size: body.length }), padded(body)]);
}

function nulTerminated(value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(value), Buffer.alloc(1)]);
}

function padded(content: Buffer): Buffer {
  const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
  return pad ? Buffer.concat([content, Buffer.alloc(pad)]) : content;
}

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'latin1');
}

/** Octal, or GNU base-256: a set top bit, then the value big-endian in two's complement. */
function numeric(block: Buffer, offset: number, width: number, value: number, base256: boolean): void {
  if (!base256) {
    octal(block, offset, width, value);
    return;
  }
  let v = BigInt(value);
  for (let i = offset + width - 1; i >= offset; i--) {
    block[i] = Number(BigInt.asUintN(8, v));
    v >>= 8n;
  }
  block[offset] = value < 0 ? 0xff : 0x80;
}
