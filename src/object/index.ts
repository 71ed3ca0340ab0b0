/**
 * Objects: the content-addressed bytes of a CVMFS repository. Hash algorithms and their text form,
 * zlib compression (objects are hashed after compression), object names with their suffixes, and
 * the xor32 chunker that cuts large files as cvmfs_server does.
 */

export type { ChunkSizes } from './chunker.js';
export { DEFAULT_CHUNK_SIZES, Xor32Chunker } from './chunker.js';
export { compress, compressSync, decompress, decompressSync, LIBDEFLATE_LEVEL } from './compress.js';
export type { HashAlgorithm, HashText } from './hash.js';
export {
  ALGORITHM_FLAG,
  algorithmFromFlag,
  hashAlgorithm,
  hashBytes,
  hashDigest,
  isHashText,
  newHasher,
  toHashText,
} from './hash.js';
export type { ObjectSuffix } from './object-path.js';
export { objectPath, parseObjectPath, Suffix } from './object-path.js';
