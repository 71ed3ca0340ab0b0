import { BargeError } from '../../error/index.js';
import type { ImageConfig } from './image-config.js';
import type { Descriptor, ImageIndex, ImageManifest } from './image-manifest.js';
import { formatImageReference, type ImageReference } from './image-reference.js';
import { isImageConfig, type LayerCompression, layerCompression } from './media-types.js';
import { formatPlatform, type Platform, platformMatches } from './platform.js';

/** One layer of a resolved image, in order from the base. */
export interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
  compression: LayerCompression;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids), when the config lists it. */
  diffId: string | undefined;
  /** Other places a nondistributable layer may be fetched from (barge reads the registry only). */
  urls?: string[];
}

/** An image resolved to one platform: everything needed to fetch and unpack it. */
export interface ResolvedImage {
  reference: ImageReference;
  /** Digest of the platform's image manifest. */
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: string;
  layers: LayerInfo[];
  platform: Platform;
  /** Digest of the index or manifest list the platform was chosen from, if there was one. */
  indexDigest?: string;
}

/** One platform a reference offers. */
export interface PlatformEntry {
  platform: Platform;
  /** The image manifest for that platform. */
  digest: string;
  mediaType: string;
  size: number;
}

// buildx attaches provenance "images" to indexes with this annotation and platform unknown/unknown.
const ATTESTATION = 'attestation-manifest';

/** The parts resolvedImage puts together. */
export interface ImageParts {
  ref: ImageReference;
  want: Platform;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The platform of the index entry the manifest was chosen by, if any. */
  entryPlatform: Platform | undefined;
  indexDigest: string | undefined;
}

/**
 * The resolved image from its manifest and config, checked: a single-platform image must be of
 * the wanted platform when its config says which it is, and the config must list one diff_id per
 * layer (docker refuses such images too).
 */
export function resolvedImage(parts: ImageParts): ResolvedImage {
  const { ref, want, manifest, config, entryPlatform } = parts;
  const declared = configPlatform(config);
  if (!entryPlatform && declared && !platformMatches(want, declared))
    throw platformNotFound(ref, want, [declared]);
  const diffIds = config.rootfs?.diff_ids;
  if (diffIds && diffIds.length !== manifest.layers.length) {
    throw new BargeError(
      'IMAGE_MANIFEST_INVALID',
      `${formatImageReference(ref)} (${parts.manifestDigest}) lists ${manifest.layers.length} layers but its config ${diffIds.length} diff_ids`,
      {
        hint: 'the image is broken in the registry; push it again',
        details: { reference: formatImageReference(ref) },
      },
    );
  }
  return {
    reference: ref,
    manifestDigest: parts.manifestDigest,
    manifest,
    config,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l, i) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      compression: layerCompression(l.mediaType) ?? 'none',
      diffId: diffIds?.[i],
      ...(l.urls ? { urls: l.urls } : {}),
    })),
    platform: entryPlatform ?? declared ?? want,
    ...(parts.indexDigest ? { indexDigest: parts.indexDigest } : {}),
  };
}

/** The platform an image config declares, if it names os and architecture. */
export function configPlatform(config: ImageConfig): Platform | undefined {
  if (!config.os || !config.architecture) return undefined;
  return {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
}

/** The runnable entries of an index: with a platform, attestations left out. */
export function indexEntries(index: ImageIndex): PlatformEntry[] {
  return index.manifests
    .filter((d): d is Descriptor & { platform: Platform } => d.platform !== undefined)
    .filter(
      (d) => d.annotations?.['vnd.docker.reference.type'] !== ATTESTATION && d.platform.os !== 'unknown',
    )
    .map((d) => ({ platform: d.platform, digest: d.digest, mediaType: d.mediaType, size: d.size }));
}

/** Refuses what barge cannot unpack: artifacts that are no container image, unknown layer types. */
export function checkImageManifest(manifest: ImageManifest, where: string): void {
  if (!isImageConfig(manifest.config.mediaType)) {
    throw new BargeError(
      'IMAGE_MANIFEST_UNSUPPORTED',
      `${where} is an artifact of type ${manifest.config.mediaType}, not a container image`,
      {
        hint: 'barge publishes container images; check the reference',
        details: { mediaType: manifest.config.mediaType },
      },
    );
  }
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new BargeError('IMAGE_MANIFEST_UNSUPPORTED', `${where} has a layer of type ${layer.mediaType}`, {
        hint: 'barge unpacks tar layers, plain or compressed with gzip or zstd (encrypted layers are not supported)',
        details: { digest: layer.digest, mediaType: layer.mediaType },
      });
    }
  }
}

/** PLATFORM_NOT_FOUND, listing the platforms there are. */
export function platformNotFound(ref: ImageReference, want: Platform, available: Platform[]): BargeError {
  const list = available.map(formatPlatform).join(', ') || 'none';
  return new BargeError(
    'PLATFORM_NOT_FOUND',
    `${formatImageReference(ref)} has no ${formatPlatform(want)} image (it has: ${list})`,
    {
      hint: 'choose one of the platforms it has, or another image',
      details: {
        reference: formatImageReference(ref),
        wanted: formatPlatform(want),
        available: available.map(formatPlatform),
      },
    },
  );
}
