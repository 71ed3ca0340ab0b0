import { BargeError } from '../../error/index.js';
import { isDigest } from './image-reference.js';
import { MediaType } from './media-types.js';
import type { Platform } from './platform.js';

/** A content descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  /** In index entries: the platform of the manifest. */
  platform?: Platform;
  /** Where nondistributable layers can be fetched instead of the registry. */
  urls?: string[];
  annotations?: Record<string, string>;
}

/** An image manifest: OCI image manifest or Docker schema 2. */
export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** A multi-platform image: OCI image index or Docker manifest list. */
export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/**
 * Parses and checks manifest bytes. The media type comes from the body's `mediaType` field (it is
 * covered by the digest), else from the Content-Type, else from the shape (OCI allows leaving it
 * out). `where` names the manifest in error messages.
 */
export function parseManifest(
  bytes: Buffer,
  contentType: string | undefined,
  where: string,
): ImageManifest | ImageIndex {
  const invalid = (why: string) =>
    new BargeError('IMAGE_MANIFEST_INVALID', `the manifest of ${where} is invalid: ${why}`, {
      hint: 'the registry served something that is not an OCI or Docker manifest; check the reference, or report it to the image owner',
      details: { where },
    });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('it is not JSON');
  }
  if (!isObject(json)) throw invalid('it is not a JSON object');
  const header = contentType?.split(';')[0]?.trim();
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  if (
    json.schemaVersion === 1 ||
    declared?.startsWith(MediaType.DOCKER_SCHEMA1) ||
    header?.startsWith(MediaType.DOCKER_SCHEMA1)
  ) {
    throw new BargeError(
      'IMAGE_MANIFEST_UNSUPPORTED',
      `${where} has a Docker schema 1 manifest, which barge does not read`,
      {
        hint: 'schema 1 was deprecated in 2017; push the image again with a current docker, buildah or skopeo',
        details: { where },
      },
    );
  }
  if (json.schemaVersion !== 2)
    throw invalid(`schemaVersion is ${JSON.stringify(json.schemaVersion)}, not 2`);
  const inferred = Array.isArray(json.manifests) ? MediaType.OCI_INDEX : MediaType.OCI_MANIFEST;
  const mediaType =
    declared ??
    (header && header !== 'application/json' && header !== 'application/octet-stream' ? header : inferred);
  const annotations = stringMap(json.annotations, 'annotations', invalid);

  if (mediaType === MediaType.OCI_INDEX || mediaType === MediaType.DOCKER_LIST) {
    if (!Array.isArray(json.manifests)) throw invalid('an index without a manifests list');
    const manifests = json.manifests.map((d, i) => descriptor(d, `manifests[${i}]`, invalid));
    return { kind: 'index', mediaType, manifests, ...(annotations ? { annotations } : {}) };
  }
  if (mediaType === MediaType.OCI_MANIFEST || mediaType === MediaType.DOCKER_MANIFEST) {
    if (!Array.isArray(json.layers)) throw invalid('an image manifest without a layers list');
    const config = descriptor(json.config, 'config', invalid);
    const layers = json.layers.map((d, i) => descriptor(d, `layers[${i}]`, invalid));
    return { kind: 'image', mediaType, config, layers, ...(annotations ? { annotations } : {}) };
  }
  throw new BargeError(
    'IMAGE_MANIFEST_UNSUPPORTED',
    `${where} has a manifest of type ${mediaType}, which is no container image`,
    {
      hint: 'barge reads OCI image manifests and indexes and Docker schema 2 manifests and lists',
      details: { where, mediaType },
    },
  );
}

function descriptor(value: unknown, field: string, invalid: (why: string) => BargeError): Descriptor {
  if (!isObject(value)) throw invalid(`${field} is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string') throw invalid(`${field}.mediaType is missing`);
  if (typeof digest !== 'string' || !isDigest(digest))
    throw invalid(`${field}.digest is not a sha256/sha512 digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw invalid(`${field}.size is not a size`);
  const out: Descriptor = { mediaType, digest, size };
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw invalid(`${field}.platform lacks os or architecture`);
    }
    out.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string' && p.variant !== '') out.platform.variant = p.variant;
  }
  if (Array.isArray(value.urls)) out.urls = value.urls.filter((u): u is string => typeof u === 'string');
  const annotations = stringMap(value.annotations, `${field}.annotations`, invalid);
  if (annotations) out.annotations = annotations;
  return out;
}

function stringMap(
  value: unknown,
  field: string,
  invalid: (why: string) => BargeError,
): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(`${field} is not a map of strings`);
  }
  return value as Record<string, string>;
}

/** True for a plain JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
