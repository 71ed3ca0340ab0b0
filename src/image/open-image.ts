import path from 'node:path';
import { BargeError } from '../error/index.js';
import type { ImageName } from './image-layout.js';
import { type ImageConfig, type ImageSource, openDockerArchive, openOciLayout } from './layer/index.js';
import { formatPlatform, parseImageReference, parsePlatform, type RegistryClient } from './registry/index.js';

/** An image ready to flatten, and the name it is published under. */
export interface OpenedImage {
  source: ImageSource;
  name: ImageName;
  platform: string;
  /** Where it came from, for messages (`docker://…`, `oci:…`). */
  origin: string;
  /** The digest the reference resolved to first (an index's, for multi-arch images): what sync compares. */
  sourceDigest: string;
}

/** Options of openImage. */
export interface OpenImageOptions {
  client: RegistryClient;
  /** `os/arch[/variant]`, default linux/amd64. */
  platform?: string;
  /** Publish under this name instead (`registry/repository:tag`); required for local sources without a ref. */
  as?: string;
}

/**
 * Opens an image named like skopeo names them: a registry reference (`ubuntu:22.04`,
 * `docker://host:5000/ns/repo@sha256:…`), `oci:<layout dir>[:<ref>]`, or `docker-archive:<file>`.
 * Local images are published under `--as` or `local/<dir name>:<ref>`.
 */
export async function openImage(spec: string, options: OpenImageOptions): Promise<OpenedImage> {
  const platform = options.platform ? parsePlatform(options.platform) : undefined;
  const rename = options.as ? nameOf(options.as) : undefined;
  if (spec.startsWith('oci:')) {
    const [dir, ref] = splitRef(spec.slice(4));
    const source = await openOciLayout(dir, { ...(ref ? { ref } : {}), ...(platform ? { platform } : {}) });
    const name = rename ?? {
      displayRegistry: 'local',
      repository: path.basename(path.resolve(dir)),
      tag: ref ?? 'latest',
    };
    return {
      source,
      name,
      platform: platformOf(source.config),
      origin: spec,
      sourceDigest: source.manifestDigest ?? source.configDigest,
    };
  }
  if (spec.startsWith('docker-archive:')) {
    const [file, ref] = splitRef(spec.slice('docker-archive:'.length));
    const source = await openDockerArchive(file, ref ? { ref } : {});
    const name =
      rename ??
      (ref
        ? nameOf(ref)
        : { displayRegistry: 'local', repository: path.basename(file).replace(/\.tar$/, ''), tag: 'latest' });
    return {
      source,
      name,
      platform: platformOf(source.config),
      origin: spec,
      sourceDigest: source.configDigest,
    };
  }
  const reference = parseImageReference(spec.replace(/^docker:\/\//, ''));
  const resolved = await options.client.resolve(reference, platform ? { platform } : {});
  const client = options.client;
  const source: ImageSource = {
    config: resolved.config as unknown as ImageConfig,
    configDigest: resolved.configDigest,
    manifestDigest: resolved.manifestDigest,
    layers: resolved.layers.map((l) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      open: async () => client.openBlob(reference, l.digest, l.size),
    })),
  };
  const name: ImageName = rename ?? {
    displayRegistry: reference.displayRegistry,
    repository: reference.repository,
    ...(reference.tag ? { tag: reference.tag } : {}),
    ...(reference.digest ? { digest: reference.digest } : {}),
  };
  return {
    source,
    name,
    platform: formatPlatform(resolved.platform),
    origin: `docker://${spec.replace(/^docker:\/\//, '')}`,
    sourceDigest: resolved.indexDigest ?? resolved.manifestDigest,
  };
}

/** An ImageName from `registry/repository:tag` as users write it. */
export function nameOf(text: string): ImageName {
  const ref = parseImageReference(text);
  if (!ref.tag && !ref.digest) throw new BargeError('IMAGE_REFERENCE_INVALID', `'${text}' has no tag`);
  return {
    displayRegistry: ref.displayRegistry,
    repository: ref.repository,
    ...(ref.tag ? { tag: ref.tag } : {}),
    ...(ref.digest ? { digest: ref.digest } : {}),
  };
}

/** `dir:ref` → [dir, ref]; a colon inside the directory part is kept when nothing follows the last one. */
function splitRef(text: string): [string, string | undefined] {
  const i = text.lastIndexOf(':');
  if (i <= 0 || text.slice(i + 1).includes('/')) return [text, undefined];
  return [text.slice(0, i), text.slice(i + 1) || undefined];
}

function platformOf(config: ImageConfig): string {
  return [config.os, config.architecture, config.variant].filter(Boolean).join('/');
}
