import type { FileHandle } from 'node:fs/promises';
import { type LayerPlace, layerError } from './layer-error.js';
import { BLOCK_SIZE, isZeroBlock, parseTarHeader } from './tar-header.js';
import { META_LIMIT, type TarEntryType, TarMeta } from './tar-meta.js';
import { normaliseTarPath, parentOf } from './tar-path.js';

/** Where one member of an uncompressed tar file lies, for reading it in place. */
export interface TarFileMember {
  path: string;
  type: TarEntryType;
  /** Byte offset of the member's data in the file. */
  offset: number;
  size: number;
  linkname: string;
}

/** A docker-archive holds a handful of files per image; anything near this is not one. */
const MAX_MEMBERS = 100_000;
/** Symlinks followed in a row before giving up (a loop). */
const MAX_LINK_HOPS = 16;

/**
 * Lists the members of an uncompressed tar file by reading only its headers (one 512-byte read
 * each, data skipped by seeking), with the same header, pax and name checks as the streaming
 * reader. Later members of the same name replace earlier ones, as extraction would.
 */
export async function indexTarFile(handle: FileHandle, label: string): Promise<Map<string, TarFileMember>> {
  const members = new Map<string, TarFileMember>();
  const meta = new TarMeta();
  let pos = 0;
  for (;;) {
    const place: LayerPlace = { layer: label, offset: pos };
    const block = await readAt(handle, pos, BLOCK_SIZE);
    if (block.length < BLOCK_SIZE)
      throw layerError('LAYER_CORRUPT', 'truncated: the archive ends without its end blocks', place);
    if (isZeroBlock(block)) break;
    const header = parseTarHeader(block, place);
    const data = pos + BLOCK_SIZE;
    if (TarMeta.isMeta(header.typeflag)) {
      if (header.size > META_LIMIT)
        throw layerError('UNSUPPORTED_ENTRY', `a ${header.size}-byte pax or long-name record`, place);
      const body = await readAt(handle, data, header.size);
      if (body.length < header.size)
        throw layerError('LAYER_CORRUPT', 'truncated: the archive ends inside a record', place);
      meta.add(header.typeflag, body, place);
      pos = data + roundUp(header.size);
      continue;
    }
    const { info, dataSize } = meta.resolve(header, pos, label, 'strip');
    members.set(info.path, {
      path: info.path,
      type: info.type,
      offset: data,
      size: dataSize,
      linkname: info.linkname,
    });
    if (members.size > MAX_MEMBERS)
      throw layerError('UNSUPPORTED_ENTRY', `more than ${MAX_MEMBERS} members`, place);
    pos = data + roundUp(dataSize);
  }
  return members;
}

/**
 * The regular file a member name leads to, following symlinks (relative to their directory,
 * as `docker save` writes `<id>/layer.tar -> ../<digest>.tar`) and hard links; never outside the
 * archive, never more than a few hops.
 */
export function resolveMember(
  members: Map<string, TarFileMember>,
  name: string,
  label: string,
): TarFileMember | undefined {
  let path = normaliseTarPath(name, 'the member name', { layer: label, entry: name }, 'strip');
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    const member = members.get(path);
    if (!member || member.type === 'file') return member;
    const place = { layer: label, entry: path };
    if (member.type === 'symlink') {
      const target = member.linkname.startsWith('/')
        ? member.linkname
        : `${parentOf(path)}/${member.linkname}`;
      path = normaliseTarPath(target, 'the symlink target', place, 'strip');
    } else if (member.type === 'hardlink') {
      path = member.linkname;
    } else {
      return undefined;
    }
  }
  throw layerError(
    'LAYER_CORRUPT',
    `more than ${MAX_LINK_HOPS} links in a row from ${JSON.stringify(name)}`,
    { layer: label },
  );
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

function roundUp(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}
