import type { ByteSource } from './byte-reader.js';
import { decompressLayer } from './decompress-layer.js';
import { layerError } from './layer-error.js';
import { SymlinkTracker } from './symlink-tracker.js';
import type { AbsolutePaths } from './tar-path.js';
import { readTar, type TarEntry } from './tar-reader.js';
import { whiteoutMark } from './whiteout.js';

/** A whiteout: `path` and everything under it are removed from the layers below. */
export interface WhiteoutEntry {
  type: 'whiteout';
  path: string;
  offset: number;
}

/** An opaque directory: everything under `path` (not `path` itself) is removed from the layers below. */
export interface OpaqueEntry {
  type: 'opaque';
  path: string;
  offset: number;
}

/** What a layer holds, in tar order: entries to add or replace, whiteouts and opaque markers. */
export type LayerEntry = TarEntry | WhiteoutEntry | OpaqueEntry;

/** How to read a layer. */
export interface ReadLayerOptions {
  /** The layer's digest; errors name it. */
  digest: string;
  /** Symlinks of the layers below; pass one tracker for all layers of an image, in order. */
  symlinks?: SymlinkTracker;
  /** Absolute member names: 'strip' (default, as docker reads them) or 'refuse'. */
  absolute?: AbsolutePaths;
  /** The zstd command (default: `zstd` on PATH). */
  zstd?: string;
}

/**
 * Reads one image layer blob (gzip, zstd or plain tar, sniffed) as entries, refusing hostile
 * ones: names leaving the root, entries through a symlinked parent, hard links to anything but
 * an earlier entry of the same layer, names with NUL. OCI whiteouts come out as `whiteout` and
 * `opaque` entries for the flattener to apply; AUFS metadata (`.wh..wh.*`) is skipped.
 *
 * Streaming: an entry is yielded before the blob has been read to its end, and a digest
 * mismatch upstream surfaces only when the stream ends. Nothing read from a layer may be made
 * visible before this generator has finished without an error.
 */
export async function* readLayer(
  blob: ByteSource,
  options: ReadLayerOptions,
): AsyncGenerator<LayerEntry, void, undefined> {
  const layer = options.digest;
  const tracker = options.symlinks ?? new SymlinkTracker();
  tracker.beginLayer();
  const tar = decompressLayer(blob, { label: layer, zstd: options.zstd });
  for await (const entry of readTar(tar, { label: layer, absolute: options.absolute })) {
    const place = { layer, entry: entry.path, offset: entry.offset };
    const through = tracker.symlinkedParent(entry.path);
    if (through !== undefined) {
      throw layerError('TAR_SYMLINK_PARENT', `its parent ${JSON.stringify(through)} is a symlink`, place);
    }
    const mark = whiteoutMark(entry.path, place);
    if (mark.kind === 'meta') continue;
    if (mark.kind === 'whiteout') {
      tracker.whiteout(mark.path);
      yield { type: 'whiteout', path: mark.path, offset: entry.offset };
      continue;
    }
    if (mark.kind === 'opaque') {
      tracker.opaque(mark.path);
      yield { type: 'opaque', path: mark.path, offset: entry.offset };
      continue;
    }
    let type = entry.type;
    if (entry.type === 'hardlink') {
      // OCI image spec, layer.md "Hardlinks": links to files of other layers "may fail" to extract
      // (docker's overlay2 driver cannot make them); within the layer, the target must come first.
      const target = entry.linkname === entry.path ? undefined : tracker.earlierEntry(entry.linkname);
      if (target === undefined) {
        throw layerError(
          'TAR_LINK_INVALID',
          `hard link target ${JSON.stringify(entry.linkname)} is not an earlier file, symlink or device of this layer`,
          place,
        );
      }
      // A hard link to a symlink is that symlink under a second name: track it as one.
      type = target;
    }
    tracker.record(entry.path, type);
    yield entry;
  }
  tracker.endLayer();
}
