/**
 * Registry: a client of the OCI distribution API v2, the source of images in registries. It parses
 * image references as docker does (with DUCC's display form of the registry for repository
 * paths), resolves them through OCI indexes and Docker manifest lists to one platform's image
 * (Docker schema 2 and OCI manifests; gzip, zstd and plain layers), lists tags and platforms, and
 * streams blobs that fail unless their digest and size match. It authenticates anonymously, with
 * Basic credentials or through the Bearer token flow (credentials per registry from options,
 * `BARGE_REGISTRY_AUTH_<HOST>=user:password`, or a docker `config.json`), retries 429, 5xx and
 * broken connections with backoff, resumes blobs with Range requests, and goes through HTTP
 * proxies (`https_proxy`, `http_proxy`, `no_proxy`, or the `proxy` option).
 */

export type { RetryPolicy } from './backoff.js';
export { DEFAULT_RETRY_POLICY } from './backoff.js';
export type { CredentialOptions, RegistryCredentials } from './credentials.js';
export { CredentialStore, credentialsVariable } from './credentials.js';
export type { ContainerConfig, ImageConfig } from './image-config.js';
export type { Descriptor, ImageIndex, ImageManifest } from './image-manifest.js';
export { parseManifest } from './image-manifest.js';
export type { ImageReference, ParseReferenceOptions } from './image-reference.js';
export {
  DOCKER_HUB_DISPLAY,
  DOCKER_HUB_REGISTRY,
  formatImageReference,
  isDigest,
  parseImageReference,
  toImageReference,
} from './image-reference.js';
export type { LayerCompression } from './media-types.js';
export { layerCompression, MediaType } from './media-types.js';
export type { Platform } from './platform.js';
export {
  DEFAULT_PLATFORM,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
} from './platform.js';
export type { FetchedManifest, ManifestHead, RegistryClientOptions } from './registry-client.js';
export { RegistryClient } from './registry-client.js';
export type { RegistryEvent, RegistryEventListener } from './registry-event.js';
export type { LayerInfo, PlatformEntry, ResolvedImage } from './resolved-image.js';
