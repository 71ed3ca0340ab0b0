/**
 * Container images into the repository: sources (registries, OCI layouts, docker archives), a
 * safe layer reader, and the one-pass flatten that applies layers straight into a working tree.
 */

export type { FlattenOptions, FlattenStats } from './flatten-image.js';
export { flattenImage } from './flatten-image.js';
