import { BargeError } from '../../error/index.js';
import { ByteReader, type ByteSource } from './byte-reader.js';
import { type LayerPlace, layerError } from './layer-error.js';
import { BLOCK_SIZE, isZeroBlock, parseTarHeader } from './tar-header.js';
import { META_LIMIT, type TarEntryInfo, TarMeta } from './tar-meta.js';
import type { AbsolutePaths } from './tar-path.js';

/** One entry of a tar stream: its metadata and its content. */
export interface TarEntry extends TarEntryInfo {
  /**
   * The content, as the stream delivers it (each chunk a view of the stream's own buffer, no
   * copy). Iterate it at most once, before asking for the next entry; asking for the next entry
   * skips whatever was not read.
   */
  content: AsyncIterable<Buffer>;
}

/** How to read a tar stream. */
export interface ReadTarOptions {
  /** Names the stream in errors: the layer digest or file name. */
  label: string;
  /** Absolute member names: read relative to the root (default, as docker does) or refused. */
  absolute?: AbsolutePaths;
}

/**
 * Reads a tar stream (ustar, pax with `x` and `g` headers, GNU with `L`/`K` long names and
 * base-256 numbers) as a sequence of entries, holding only the current header in memory. Every
 * header's checksum is verified, names are normalised and refused when they leave the root, and
 * the archive must end with its zero blocks: a stream cut anywhere else is reported as
 * truncated. After the end, the rest of the input (padding, trailing garbage, which docker
 * ignores too) is read and discarded so that digests verified upstream see every byte.
 */
export async function* readTar(
  source: ByteSource,
  options: ReadTarOptions,
): AsyncGenerator<TarEntry, void, undefined> {
  const layer = options.label;
  const absolute = options.absolute ?? 'strip';
  const reader = new ByteReader(source);
  const meta = new TarMeta();
  // Where the current entry's first header (pax or long name) began, for messages.
  let entryStart = -1;
  try {
    for (;;) {
      const offset = reader.position;
      if (entryStart === -1) entryStart = offset;
      const place: LayerPlace = { layer, offset };
      const block = await reader.read(BLOCK_SIZE);
      if (block.length < BLOCK_SIZE) {
        throw truncated(
          block.length === 0
            ? 'the archive ends without its two end-of-archive blocks'
            : 'the archive ends inside a header',
          place,
        );
      }
      if (isZeroBlock(block)) {
        if (meta.pending)
          throw layerError('LAYER_CORRUPT', 'pax or long-name records without an entry', place);
        // Two zero blocks end the archive. A lone one followed by the end of the stream is accepted,
        // as GNU tar does; one followed by another header is refused, as Go's archive/tar (docker) does.
        const second = await reader.read(BLOCK_SIZE);
        if (second.length === BLOCK_SIZE && !isZeroBlock(second)) {
          throw layerError('LAYER_CORRUPT', 'a zero block inside the archive', place);
        }
        break;
      }
      const header = parseTarHeader(block, place);
      if (TarMeta.isMeta(header.typeflag)) {
        if (header.size > META_LIMIT) {
          throw layerError(
            'UNSUPPORTED_ENTRY',
            `a ${header.size}-byte pax or long-name record (the limit is ${META_LIMIT} bytes)`,
            place,
          );
        }
        const body = await reader.read(header.size);
        if (body.length < header.size)
          throw truncated('the archive ends inside a pax or long-name record', place);
        await skipExactly(reader, padding(header.size), place);
        meta.add(header.typeflag, body, place);
        continue;
      }
      const { info, dataSize } = meta.resolve(header, entryStart, layer, absolute);
      entryStart = -1;
      const entryPlace: LayerPlace = { layer, entry: info.path, offset };
      let consumed = 0;
      let started = false;
      let reading = false;
      let left = false;
      async function* content(): AsyncGenerator<Buffer, void, undefined> {
        if (started) throw misuse(`the content of ${info.path} was read twice`);
        started = true;
        while (consumed < info.size) {
          if (left) throw misuse(`the content of ${info.path} was read after the next entry was asked for`);
          reading = true;
          let chunk: Buffer;
          try {
            chunk = await reader.readUpTo(info.size - consumed);
          } finally {
            reading = false;
          }
          if (chunk.length === 0) throw truncated('the archive ends inside this file', entryPlace);
          consumed += chunk.length;
          yield chunk;
        }
      }
      yield { ...info, content: { [Symbol.asyncIterator]: content } };
      left = true;
      if (reading)
        throw misuse(`the next entry was asked for while the content of ${info.path} was being read`);
      await skipExactly(reader, dataSize - consumed + padding(dataSize), entryPlace);
    }
    await reader.drain();
  } finally {
    await reader.close();
  }
}

function padding(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

async function skipExactly(reader: ByteReader, n: number, place: LayerPlace): Promise<void> {
  if ((await reader.skip(n)) < n) throw truncated('the archive ends inside an entry', place);
}

function truncated(what: string, place: LayerPlace): BargeError {
  return layerError('LAYER_CORRUPT', `truncated: ${what}`, place);
}

function misuse(what: string): BargeError {
  return new BargeError('INVALID_ARGUMENT', `tar reader misused: ${what}`, {
    hint: 'read or leave each entry content before asking for the next entry',
  });
}
