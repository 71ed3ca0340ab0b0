import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isBargeError } from '../../error/index.js';
import { type ByteSource, toBuffer } from './byte-reader.js';
import { layerError } from './layer-error.js';
import { BZIP2_TOOL, toolDecompress, XZ_TOOL, ZSTD_COMMAND, zstdDecompress } from './zstd-process.js';

/** How a layer blob is compressed. */
export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** How to decompress a layer. */
export interface DecompressOptions {
  /** Names the layer in errors (its digest). */
  label: string;
  /** The zstd command (default: `zstd` on PATH). */
  zstd?: string;
}

/**
 * The compression of a blob from its first bytes: gzip's magic 1f 8b (RFC 1952), zstd's frame
 * magic 28 b5 2f fd (RFC 8878), bzip2's "BZh" and a digit, xz's fd 37 7a 58 5a 00 (the last two
 * only in user tarballs in practice: jobsub_lite sends bzip2); anything else is read as a plain tar, whose first header is
 * checksummed, so garbage is still caught. Media types are not trusted for this: registries and
 * tools are known to label uncompressed layers `+gzip` and the reverse.
 */
export function sniffCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (
    head[0] === 0x42 &&
    head[1] === 0x5a &&
    head[2] === 0x68 &&
    (head[3] ?? 0) >= 0x31 &&
    (head[3] ?? 0) <= 0x39
  )
    return 'bzip2';
  if (
    head[0] === 0xfd &&
    head[1] === 0x37 &&
    head[2] === 0x7a &&
    head[3] === 0x58 &&
    head[4] === 0x5a &&
    head[5] === 0
  )
    return 'xz';
  return 'none';
}

/**
 * A layer blob's uncompressed tar stream. Streaming throughout: memory holds a few chunks
 * whatever the layer's size, and data is pulled from `blob` only as the consumer reads.
 */
export async function* decompressLayer(
  blob: ByteSource,
  options: DecompressOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const it = (blob as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  try {
    const head: Buffer[] = [];
    let have = 0;
    let ended = false;
    while (have < 6) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      const chunk = toBuffer(next.value);
      head.push(chunk);
      have += chunk.length;
    }
    const first = Buffer.concat(head);
    const rest = (async function* () {
      if (first.length > 0) yield first;
      if (ended) return;
      for (let next = await it.next(); !next.done; next = await it.next()) {
        yield toBuffer(next.value);
      }
    })();
    const compression = sniffCompression(first);
    if (compression === 'none') yield* rest;
    else if (compression === 'gzip') yield* gunzip(rest, options.label);
    else if (compression === 'zstd') yield* zstdDecompress(rest, options.label, options.zstd ?? ZSTD_COMMAND);
    else yield* toolDecompress(rest, options.label, compression === 'bzip2' ? BZIP2_TOOL : XZ_TOOL);
  } finally {
    await it.return?.();
  }
}

async function* gunzip(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer, void, undefined> {
  // objectMode false: the source then buffers 16 KiB ahead, not 16 whole chunks.
  const source = Readable.from(input, { objectMode: false });
  const inflate = createGunzip({ chunkSize: 64 * 1024 });
  source.on('error', (err) => inflate.destroy(err));
  source.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    if (isBargeError(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const cut = /unexpected end of file/i.test(message) ? 'truncated: ' : '';
    throw layerError(
      'LAYER_CORRUPT',
      `${cut}gzip stream is damaged (${message})`,
      { layer: label },
      { cause: err },
    );
  } finally {
    source.destroy();
    inflate.destroy();
  }
}
