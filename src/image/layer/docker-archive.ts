import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { BargeError, errnoCode } from '../../error/index.js';
import { sniffCompression } from './decompress-layer.js';
import { readFileRange } from './file-range.js';
import {
  CONFIG_LIMIT,
  type JsonCheck,
  jsonArray,
  jsonObject,
  jsonString,
  MANIFEST_LIMIT,
  parseImageConfig,
  parseImageJson,
} from './image-json.js';
import type { ImageLayer, ImageSource } from './image-source.js';
import { indexTarFile, readAt, resolveMember, type TarFileMember } from './tar-file-index.js';
import { parseDigest, verifyBlob } from './verify-blob.js';

/** Which image of a docker-archive to open. */
export interface OpenDockerArchiveOptions {
  /** One of the image's RepoTags (`name:tag`); needed when the archive holds several images. */
  ref?: string;
}

/** One image of manifest.json of `docker save` (docker ≥ 1.10, docker/docker image/tarexport). */
interface ArchiveImage {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

// manifest.json: one object per image.
const checkArchiveManifest: JsonCheck<ArchiveImage[]> = (value, at) =>
  jsonArray(value, at, (item, iat) => {
    const o = jsonObject(item, iat);
    const image: ArchiveImage = {
      Config: jsonString(o.Config, `${iat}.Config`),
      Layers: jsonArray(o.Layers, `${iat}.Layers`, jsonString),
    };
    if (o.RepoTags !== undefined && o.RepoTags !== null)
      image.RepoTags = jsonArray(o.RepoTags, `${iat}.RepoTags`, jsonString);
    return image;
  });

/** Names that carry the blob's digest: skopeo's `<hex>.tar`/`<hex>.json`, docker ≥ 25's `blobs/sha256/<hex>`. */
const DIGEST_NAME = /^(?:([a-f0-9]{64})\.(?:tar|json)|blobs\/(sha256|sha512)\/([a-f0-9]+))$/;

/**
 * Opens an image in a `docker save` (or `skopeo copy ... docker-archive:`) tarball without
 * unpacking it: the tar's headers are indexed and each layer is streamed from its place in the
 * file. A layer's digest is the one its file name carries when it has one, else the config's
 * diff_id (legacy `<id>/layer.tar`, always an uncompressed tar); either way the bytes are
 * verified while they stream, and the config's digest is verified when it is named by one.
 */
export async function openDockerArchive(
  file: string,
  options: OpenDockerArchiveOptions = {},
): Promise<ImageSource> {
  const where = `docker archive ${file}`;
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new BargeError('SOURCE_NOT_FOUND', `${where} does not exist`, { cause: err });
  }
  try {
    if (sniffCompression(await readAt(handle, 0, 4)) !== 'none') {
      throw new BargeError(
        'IMAGE_INVALID',
        `${where} is compressed; barge reads layers in place from an uncompressed archive`,
        {
          hint: 'decompress it first (gunzip / zstd -d)',
        },
      );
    }
    const members = await indexTarFile(handle, where);
    const manifestMember = resolveMember(members, 'manifest.json', where);
    if (!manifestMember) {
      const legacy = members.has('repositories')
        ? ' (only `repositories`: the format of docker before 1.10)'
        : '';
      throw new BargeError('IMAGE_INVALID', `${where} has no manifest.json${legacy}`, {
        hint: 'save the image again with a current docker, podman or skopeo',
      });
    }
    const images = parseImageJson(
      await readMember(handle, manifestMember, MANIFEST_LIMIT, where),
      checkArchiveManifest,
      `${where}: manifest.json`,
    );
    const image = chooseImage(images, options.ref, where);
    const configMember = member(members, image.Config, where);
    const configBytes = await readMember(handle, configMember, CONFIG_LIMIT, where);
    const named = digestFromName(configMember.path);
    const algorithm = named?.startsWith('sha512:') ? 'sha512' : 'sha256';
    const configDigest = `${algorithm}:${createHash(algorithm).update(configBytes).digest('hex')}`;
    if (named !== undefined && named !== configDigest) {
      throw new BargeError(
        'BLOB_DIGEST_MISMATCH',
        `${where}: config ${configMember.path} has digest ${configDigest}, not the one its name says`,
        { hint: 'the archive is damaged; save the image again' },
      );
    }
    const config = parseImageConfig(configBytes, `${where}: config ${image.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== image.Layers.length) {
      throw new BargeError(
        'IMAGE_INVALID',
        `${where}: ${image.Layers.length} layers but the config lists ${diffIds.length}`,
      );
    }
    const layers = image.Layers.map((name, i): ImageLayer => {
      const layer = member(members, name, where);
      const digest = digestFromName(layer.path) ?? diffIds[i]!;
      parseDigest(digest, `${where}: layer ${name}`);
      return {
        digest,
        size: layer.size,
        async open() {
          return verifyBlob(
            readFileRange(file, layer.offset, layer.size),
            { digest, size: layer.size },
            `${where}: layer ${name}`,
          );
        },
      };
    });
    return { config, configDigest, layers };
  } finally {
    await handle.close();
  }
}

function chooseImage(images: ArchiveImage[], ref: string | undefined, where: string) {
  const tags = images.flatMap((image) => image.RepoTags ?? []);
  if (ref !== undefined) {
    const image = images.find((candidate) => candidate.RepoTags?.includes(ref));
    if (image) return image;
    throw new BargeError(
      'IMAGE_NOT_FOUND',
      `${where} has no image tagged ${JSON.stringify(ref)} (it has: ${tags.join(', ') || 'none'})`,
    );
  }
  const only = images[0];
  if (images.length === 1 && only) return only;
  throw new BargeError(
    'IMAGE_NOT_FOUND',
    `${where} holds ${images.length} images (tags: ${tags.join(', ') || 'none'})`,
    {
      hint: images.length ? 'choose one by its tag' : 'save an image into it first',
    },
  );
}

function member(members: Map<string, TarFileMember>, name: string, where: string): TarFileMember {
  const found = resolveMember(members, name, where);
  if (!found) {
    throw new BargeError(
      'BLOB_NOT_FOUND',
      `${where}: manifest.json names ${JSON.stringify(name)}, which is not in the archive`,
      {
        hint: 'the archive is incomplete; save the image again',
      },
    );
  }
  return found;
}

function digestFromName(name: string): string | undefined {
  const m = DIGEST_NAME.exec(name);
  if (!m) return undefined;
  return m[1] ? `sha256:${m[1]}` : `${m[2]}:${m[3]}`;
}

async function readMember(
  handle: FileHandle,
  member: TarFileMember,
  limit: number,
  where: string,
): Promise<Buffer> {
  if (member.size > limit) {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: ${member.path} is ${member.size} bytes, over the ${limit}-byte limit for metadata`,
    );
  }
  return readAt(handle, member.offset, member.size);
}
