import { z } from 'zod';
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

const PlatformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
});

/** A content descriptor (OCI image spec, descriptor.md). */
export const DescriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: PlatformSchema.optional(),
  urls: z.array(z.string()).optional(),
});

/** A content descriptor. */
export type Descriptor = z.infer<typeof DescriptorSchema>;

/** An image index (image-index.md) or docker manifest list. */
export const ImageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
});

/** An image manifest (manifest.md) or docker schema 2 manifest. */
export const ImageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});

/** An image config (config.md): rootfs is checked, the rest kept as it is. */
export const ImageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z.looseObject({}).nullable().optional(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(z.string()) }),
});

/** Whether a descriptor or document names an index rather than a manifest. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;
}

/** Parses and validates image metadata, refusing it with IMAGE_INVALID and the first problem found. */
export function parseImageJson<T extends z.ZodType>(bytes: Buffer, schema: T, what: string): z.infer<T> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not JSON`, err);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw invalid(`${what} is not valid${at}: ${issue?.message ?? 'unknown problem'}`);
  }
  return parsed.data;
}

/** Parses an image config. */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  return parseImageJson(bytes, ImageConfigSchema, what) as ImageConfig;
}

function invalid(message: string, cause?: unknown): BargeError {
  return new BargeError('IMAGE_INVALID', message, {
    hint: 'the image metadata is damaged or of an unsupported kind; export or fetch the image again',
    cause,
  });
}
