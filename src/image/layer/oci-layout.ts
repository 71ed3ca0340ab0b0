import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BargeError, errnoCode } from '../../error/index.js';
import { readFileRange } from './file-range.js';
import {
  CONFIG_LIMIT,
  checkImageIndex,
  checkImageManifest,
  type Descriptor,
  isIndexMediaType,
  MANIFEST_LIMIT,
  MEDIA_TYPES,
  parseImageConfig,
  parseImageJson,
  REF_NAME_ANNOTATION,
} from './image-json.js';
import type { ImageLayer, ImageSource } from './image-source.js';
import { DEFAULT_PLATFORM, formatPlatform, type Platform, platformMatches } from './platform.js';
import { parseDigest, readVerifiedBlob, verifyBlob } from './verify-blob.js';

/** Which image of an OCI layout to open. */
export interface OpenOciLayoutOptions {
  /** The `org.opencontainers.image.ref.name` annotation (or containerd's `io.containerd.image.name`) of index.json. */
  ref?: string;
  /** The digest of a manifest or index in the layout (need not be listed in index.json). */
  digest?: string;
  /** The platform to take from a multi-platform index (default linux/amd64). */
  platform?: Platform;
}

const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
/** Nested indexes are followed this deep; real images nest one level at most. */
const MAX_INDEX_DEPTH = 4;

/**
 * Opens an image in an OCI image layout directory (OCI image spec, image-layout.md: `oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`), as written by umoci, skopeo, buildah or `docker buildx
 * --output type=oci`. Manifests and the config are read and verified now; layers are stat'ed
 * now and streamed, verified, when opened.
 */
export async function openOciLayout(dir: string, options: OpenOciLayoutOptions = {}): Promise<ImageSource> {
  const where = `OCI layout ${dir}`;
  await checkLayoutVersion(dir, where);
  const indexBytes = await readLayoutFile(dir, 'index.json', where);
  const index = parseImageJson(indexBytes, checkImageIndex, `${where}: index.json`);
  const platform = options.platform ?? DEFAULT_PLATFORM;
  let descriptor = await chooseTop(dir, index.manifests, options, platform, where);
  let document = await readJsonBlob(dir, descriptor, MANIFEST_LIMIT, where);
  for (let depth = 0; isIndexDocument(descriptor, document); depth++) {
    if (depth === MAX_INDEX_DEPTH)
      throw new BargeError('IMAGE_INVALID', `${where}: indexes nested deeper than ${MAX_INDEX_DEPTH}`);
    const nested = parseImageJson(document, checkImageIndex, `${where}: index ${descriptor.digest}`);
    descriptor = choosePlatform(nested.manifests, platform, `${where}: index ${descriptor.digest}`);
    document = await readJsonBlob(dir, descriptor, MANIFEST_LIMIT, where);
  }
  const manifest = parseImageJson(document, checkImageManifest, `${where}: manifest ${descriptor.digest}`);
  const configBytes = await readJsonBlob(dir, manifest.config, CONFIG_LIMIT, where);
  const config = parseImageConfig(configBytes, `${where}: config ${manifest.config.digest}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: manifest ${descriptor.digest} has ${manifest.layers.length} layers but its config lists ${config.rootfs.diff_ids.length}`,
    );
  }
  const layers = await Promise.all(manifest.layers.map((layer) => layoutLayer(dir, layer, where)));
  return { config, configDigest: manifest.config.digest, manifestDigest: descriptor.digest, layers };
}

async function checkLayoutVersion(dir: string, where: string): Promise<void> {
  const bytes = await readLayoutFile(dir, 'oci-layout', where);
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    version = undefined;
  }
  // image-layout.md: 1.0.0 is the only version defined so far.
  if (version !== '1.0.0') {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: oci-layout has imageLayoutVersion ${JSON.stringify(version)}, not "1.0.0"`,
    );
  }
}

async function readLayoutFile(dir: string, name: string, where: string): Promise<Buffer> {
  const file = path.join(dir, name);
  try {
    const stat = await fsp.stat(file);
    if (stat.size > CONFIG_LIMIT)
      throw new BargeError('IMAGE_INVALID', `${where}: ${name} is over ${CONFIG_LIMIT} bytes`);
    return await fsp.readFile(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new BargeError('SOURCE_NOT_FOUND', `${where}: no ${name}, so this is not an OCI image layout`, {
        hint: 'give the directory written by `skopeo copy ... oci:DIR` or `umoci init --layout DIR`',
        cause: err,
      });
    }
    throw err;
  }
}

/** The image index.json points at: by digest, by ref name, the only one, or by platform. */
async function chooseTop(
  dir: string,
  manifests: Descriptor[],
  options: OpenOciLayoutOptions,
  platform: Platform,
  where: string,
): Promise<Descriptor> {
  if (options.digest !== undefined) {
    const { algorithm, hex } = parseDigest(options.digest, where);
    const listed = manifests.find((d) => d.digest === options.digest);
    if (listed) return listed;
    const size = await blobSize(path.join(dir, 'blobs', algorithm, hex), options.digest, where);
    // An unlisted blob: its kind is read from the document itself (isIndexDocument).
    return { mediaType: '', digest: options.digest, size };
  }
  if (options.ref !== undefined) {
    const named = manifests.find(
      (d) =>
        d.annotations?.[REF_NAME_ANNOTATION] === options.ref ||
        d.annotations?.[CONTAINERD_NAME_ANNOTATION] === options.ref,
    );
    if (named) return named;
    throw new BargeError(
      'IMAGE_NOT_FOUND',
      `${where} has no image named ${JSON.stringify(options.ref)}${listRefs(manifests)}`,
      {
        hint: 'name one of the refs listed, or give a digest',
      },
    );
  }
  const only = manifests[0];
  if (manifests.length === 1 && only) return only;
  if (manifests.length > 1 && manifests.every((d) => d.platform))
    return choosePlatform(manifests, platform, where);
  throw new BargeError(
    'IMAGE_NOT_FOUND',
    manifests.length === 0
      ? `${where} holds no image`
      : `${where} holds ${manifests.length} images${listRefs(manifests)}`,
    { hint: manifests.length === 0 ? 'copy an image into it first' : 'choose one by its ref name or digest' },
  );
}

function choosePlatform(manifests: Descriptor[], platform: Platform, where: string): Descriptor {
  const match = manifests.find((d) => platformMatches(d.platform, platform));
  if (match) return match;
  const available = manifests.map((d) => formatPlatform(d.platform)).join(', ');
  throw new BargeError(
    'PLATFORM_NOT_FOUND',
    `${where} has no image for ${formatPlatform(platform)} (it has: ${available})`,
    {
      hint: 'choose one of the platforms listed',
    },
  );
}

function listRefs(manifests: Descriptor[]): string {
  const refs = manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest);
  return refs.length ? ` (it has: ${refs.join(', ')})` : '';
}

function isIndexDocument(descriptor: Descriptor, document: Buffer): boolean {
  if (descriptor.mediaType === MEDIA_TYPES.ociManifest || descriptor.mediaType === MEDIA_TYPES.dockerManifest)
    return false;
  if (isIndexMediaType(descriptor.mediaType)) return true;
  try {
    const value = JSON.parse(document.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    return isIndexMediaType(value.mediaType) || Array.isArray(value.manifests);
  } catch {
    return false;
  }
}

async function readJsonBlob(
  dir: string,
  descriptor: Descriptor,
  limit: number,
  where: string,
): Promise<Buffer> {
  const { algorithm, hex } = parseDigest(descriptor.digest, where);
  const file = path.join(dir, 'blobs', algorithm, hex);
  await blobSize(file, descriptor.digest, where);
  return readVerifiedBlob(readFileRange(file), descriptor, where, limit);
}

async function blobSize(file: string, digest: string, where: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new BargeError('BLOB_NOT_FOUND', `${where}: blob ${digest} is missing`, {
      hint: 'the layout is incomplete (a foreign or non-distributable layer?); copy the image again with skopeo',
      cause: err,
    });
  }
}

async function layoutLayer(dir: string, layer: Descriptor, where: string): Promise<ImageLayer> {
  const { algorithm, hex } = parseDigest(layer.digest, where);
  if (layer.mediaType.includes('+encrypted')) {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: layer ${layer.digest} is encrypted (${layer.mediaType})`,
      {
        hint: 'decrypt the image first (skopeo copy --decryption-key)',
      },
    );
  }
  const file = path.join(dir, 'blobs', algorithm, hex);
  const size = await blobSize(file, layer.digest, where);
  if (size !== layer.size) {
    throw new BargeError(
      'BLOB_SIZE_MISMATCH',
      `${where}: blob ${layer.digest} has ${size} bytes, not ${layer.size}`,
      {
        hint: 'the blob is damaged or was replaced; copy the image again',
      },
    );
  }
  return {
    digest: layer.digest,
    size: layer.size,
    mediaType: layer.mediaType,
    async open() {
      await blobSize(file, layer.digest, where);
      return verifyBlob(readFileRange(file), layer, `${where}: layer`);
    },
  };
}
