/**
 * Container images into the repository, the way DUCC lays them out: sources (registries, OCI
 * layouts, docker archives), a safe layer reader, a one-pass flatten straight into a working tree,
 * Apptainer metadata, user-facing symlinks, DUCC wishlists and their sync.
 */
export { apptainerFiles } from './apptainer-files.js';
export type { FlatRootPlan } from './flat-root-grace.js';
export { planFlatRoots, removeFlatRoots } from './flat-root-grace.js';
export type { FlattenOptions, FlattenStats } from './flatten-image.js';
export { flattenImage } from './flatten-image.js';
export type { AddImageOptions, AddImageResult } from './image-catalog.js';
export { addImage, removeImage } from './image-catalog.js';
export type { ImageName } from './image-layout.js';
export { FLAT_DIR, flatRoot, METADATA_DIR, metadataDir, relativeTarget, userPath } from './image-layout.js';
export type { ImageRecord } from './image-records.js';
export { listImages, referencedRoots } from './image-records.js';
export { ImageState, layerChains } from './image-state.js';
export type { OpenedImage, OpenImageOptions } from './open-image.js';
export { nameOf, openImage } from './open-image.js';
export type { PublishedImage, PublishImageOptions } from './publish-image.js';
export { publishImage } from './publish-image.js';
export { RegistryClient } from './registry/index.js';
export type { Wishlist } from './wishlist.js';
export { readWishlist, tagMatches } from './wishlist.js';
export type { SyncOptions, SyncOutcome } from './wishlist-sync.js';
export { syncWishlist } from './wishlist-sync.js';
