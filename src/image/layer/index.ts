/**
 * Image layers, read safely as streams of entries. A layer blob (gzip, zstd or plain tar, told
 * apart by its magic bytes) is decompressed as it streams, parsed by barge's own tar reader
 * (ustar, pax, GNU; checksums verified, truncation detected) and checked for hostile entries:
 * names leaving the root, writes through symlinks, stray hard links, NUL bytes. OCI whiteouts
 * come out as `whiteout` and `opaque` entries for the flattener. Images come from an OCI layout
 * directory or a docker-archive tarball (a registry client in ../registry gives the same
 * ImageSource shape); every blob is verified against its digest and size while it streams.
 */

export type { ByteSource } from './byte-reader.js';
export type { Compression, DecompressOptions } from './decompress-layer.js';
export { decompressLayer, sniffCompression } from './decompress-layer.js';
export type { OpenDockerArchiveOptions } from './docker-archive.js';
export { openDockerArchive } from './docker-archive.js';
export type { Descriptor, ImageIndexJson, ImageManifestJson, JsonCheck } from './image-json.js';
export {
  CONFIG_LIMIT,
  checkDescriptor,
  checkImageIndex,
  checkImageManifest,
  isIndexMediaType,
  MANIFEST_LIMIT,
  MEDIA_TYPES,
  parseImageConfig,
  parseImageJson,
  REF_NAME_ANNOTATION,
} from './image-json.js';
export type { ImageConfig, ImageLayer, ImageSource } from './image-source.js';
export type { OpenOciLayoutOptions } from './oci-layout.js';
export { openOciLayout } from './oci-layout.js';
export type { Platform } from './platform.js';
export { DEFAULT_PLATFORM, formatPlatform, platformMatches } from './platform.js';
export type { LayerEntry, OpaqueEntry, ReadLayerOptions, WhiteoutEntry } from './read-layer.js';
export { readLayer } from './read-layer.js';
export type { LowerSymlinks } from './symlink-tracker.js';
export { SymlinkTracker } from './symlink-tracker.js';
export type { TarEntryInfo, TarEntryType } from './tar-meta.js';
export type { AbsolutePaths } from './tar-path.js';
export { normaliseTarPath } from './tar-path.js';
export type { ReadTarOptions, TarEntry } from './tar-reader.js';
export { readTar } from './tar-reader.js';
export type { BlobExpectation, ParsedDigest } from './verify-blob.js';
export { parseDigest, readVerifiedBlob, verifyBlob } from './verify-blob.js';
export type { WhiteoutMark } from './whiteout.js';
export { WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, whiteoutMark } from './whiteout.js';
export { ZSTD_COMMAND, zstdAvailable } from './zstd-process.js';
