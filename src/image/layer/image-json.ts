import { BargeError } from '../../error/index.js';
import type { ImageConfig } from './image-source.js';

/** Media types of image indexes and manifests (OCI image spec media-types.md, and docker's schema 2 equivalents). */
export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** The ref name annotation of an OCI layout's index.json (OCI image spec, annotations.md). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** Manifests and indexes are read whole, up to 4 MiB: the size the OCI distribution spec says registries SHOULD accept. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** Image configs are read whole, up to 16 MiB (real ones are kilobytes; long histories reach a few hundred). */
export const CONFIG_LIMIT = 16 * 1024 * 1024;

/** A content descriptor (OCI image spec, descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
  urls?: string[];
}

/** An image index (image-index.md) or docker manifest list. */
export interface ImageIndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** An image manifest (manifest.md) or docker schema 2 manifest. */
export interface ImageManifestJson {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * Checks a parsed JSON value and returns it typed, keeping only the fields it knows; throws a
 * JsonProblem naming the first field that is wrong. Written by hand, not with zod: loading zod
 * took 0.2 s of every `barge images add`, whose fixed cost is the goal for images on a base.
 */
export type JsonCheck<T> = (value: unknown, at: string) => T;

/** What is wrong with a JSON document, and where. */
class JsonProblem extends Error {
  constructor(
    readonly at: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}

function fail(at: string, expected: string, value: unknown): never {
  const found = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  throw new JsonProblem(at, `expected ${expected}, received ${found}`);
}

function field(at: string, key: string | number): string {
  return at === '' ? String(key) : `${at}.${key}`;
}

/** A JSON object (not null, not an array). */
export function jsonObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(at, 'object', value);
  return value as Record<string, unknown>;
}

/** A string. */
export function jsonString(value: unknown, at: string): string {
  if (typeof value !== 'string') fail(at, 'string', value);
  return value;
}

/** An absent or string value. */
export function optionalString(value: unknown, at: string): string | undefined {
  return value === undefined ? undefined : jsonString(value, at);
}

/** An array whose every item passes `item`. */
export function jsonArray<T>(value: unknown, at: string, item: JsonCheck<T>): T[] {
  if (!Array.isArray(value)) fail(at, 'array', value);
  return value.map((v, i) => item(v, field(at, i)));
}

function stringRecord(value: unknown, at: string): Record<string, string> {
  const o = jsonObject(value, at);
  for (const [k, v] of Object.entries(o)) jsonString(v, field(at, k));
  return o as Record<string, string>;
}

function schemaVersion2(value: unknown, at: string): 2 {
  if (value !== 2) throw new JsonProblem(at, `expected 2, received ${JSON.stringify(value)}`);
  return 2;
}

/** A content descriptor. */
export const checkDescriptor: JsonCheck<Descriptor> = (value, at) => {
  const o = jsonObject(value, at);
  const size = o.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    fail(field(at, 'size'), 'a non-negative integer', size);
  const out: Descriptor = {
    mediaType: jsonString(o.mediaType, field(at, 'mediaType')),
    digest: jsonString(o.digest, field(at, 'digest')),
    size,
  };
  if (o.annotations !== undefined) out.annotations = stringRecord(o.annotations, field(at, 'annotations'));
  if (o.platform !== undefined) {
    const pat = field(at, 'platform');
    const p = jsonObject(o.platform, pat);
    out.platform = {
      architecture: jsonString(p.architecture, field(pat, 'architecture')),
      os: jsonString(p.os, field(pat, 'os')),
    };
    const variant = optionalString(p.variant, field(pat, 'variant'));
    if (variant !== undefined) out.platform.variant = variant;
  }
  if (o.urls !== undefined) out.urls = jsonArray(o.urls, field(at, 'urls'), jsonString);
  return out;
};

/** An image index or docker manifest list. */
export const checkImageIndex: JsonCheck<ImageIndexJson> = (value, at) => {
  const o = jsonObject(value, at);
  const out: ImageIndexJson = {
    schemaVersion: schemaVersion2(o.schemaVersion, field(at, 'schemaVersion')),
    manifests: jsonArray(o.manifests, field(at, 'manifests'), checkDescriptor),
  };
  const mediaType = optionalString(o.mediaType, field(at, 'mediaType'));
  if (mediaType !== undefined) out.mediaType = mediaType;
  return out;
};

/** An image manifest or docker schema 2 manifest. */
export const checkImageManifest: JsonCheck<ImageManifestJson> = (value, at) => {
  const o = jsonObject(value, at);
  const out: ImageManifestJson = {
    schemaVersion: schemaVersion2(o.schemaVersion, field(at, 'schemaVersion')),
    config: checkDescriptor(o.config, field(at, 'config')),
    layers: jsonArray(o.layers, field(at, 'layers'), checkDescriptor),
  };
  const mediaType = optionalString(o.mediaType, field(at, 'mediaType'));
  if (mediaType !== undefined) out.mediaType = mediaType;
  return out;
};

/** An image config (config.md): rootfs is checked, the rest kept as it is. */
const checkImageConfig: JsonCheck<ImageConfig> = (value, at) => {
  const o = jsonObject(value, at);
  optionalString(o.architecture, field(at, 'architecture'));
  optionalString(o.os, field(at, 'os'));
  if (o.config !== undefined && o.config !== null) jsonObject(o.config, field(at, 'config'));
  const rat = field(at, 'rootfs');
  const rootfs = jsonObject(o.rootfs, rat);
  if (rootfs.type !== 'layers')
    throw new JsonProblem(field(rat, 'type'), `expected "layers", received ${JSON.stringify(rootfs.type)}`);
  jsonArray(rootfs.diff_ids, field(rat, 'diff_ids'), jsonString);
  return o as ImageConfig;
};

/** Whether a descriptor or document names an index rather than a manifest. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;
}

/** Parses and validates image metadata, refusing it with IMAGE_INVALID and the first problem found. */
export function parseImageJson<T>(bytes: Buffer, check: JsonCheck<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not JSON`, err);
  }
  try {
    return check(value, '');
  } catch (err) {
    if (!(err instanceof JsonProblem)) throw err;
    throw invalid(`${what} is not valid${err.at ? ` at ${err.at}` : ''}: ${err.problem}`);
  }
}

/** Parses an image config. */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  return parseImageJson(bytes, checkImageConfig, what);
}

function invalid(message: string, cause?: unknown): BargeError {
  return new BargeError('IMAGE_INVALID', message, {
    hint: 'the image metadata is damaged or of an unsupported kind; export or fetch the image again',
    cause,
  });
}
