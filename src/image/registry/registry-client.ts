import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BargeError, isBargeError } from '../../error/index.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff.js';
import { type CredentialOptions, CredentialStore } from './credentials.js';
import type { TransportResponse } from './http-transport.js';
import { parseImageConfig } from './image-config.js';
import { type ImageIndex, type ImageManifest, parseManifest } from './image-manifest.js';
import { formatImageReference, type ImageReference, isDigest, toImageReference } from './image-reference.js';
import { listTags } from './list-tags.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { type Platform, platformMatches, toPlatform } from './platform.js';
import {
  notFoundError,
  RegistryHttp,
  type RegistryHttpOptions,
  type RegistryRequest,
} from './registry-http.js';
import {
  checkImageManifest,
  configPlatform,
  indexEntries,
  type PlatformEntry,
  platformNotFound,
  type ResolvedImage,
  resolvedImage,
} from './resolved-image.js';
import { verifiedBlob } from './verified-blob.js';

/** Options of RegistryClient; every part has a default. */
export interface RegistryClientOptions extends CredentialOptions, RegistryHttpOptions, Partial<RetryPolicy> {
  /** Tags asked for per page of a tag list (default 1000); the Link header leads to the next page. */
  tagPageSize?: number;
}

/** A manifest as fetched: its digest (computed here over the bytes), type, parsed form and bytes. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  manifest: ImageManifest | ImageIndex;
  bytes: Buffer;
}

/** What a HEAD of a manifest tells: enough to see whether a tag moved. */
export interface ManifestHead {
  digest: string;
  mediaType: string | undefined;
  size: number | undefined;
}

// distribution accepts manifests up to 4 MiB (registry/handlers/manifests.go maxManifestBodySize).
const MANIFEST_LIMIT = 4 << 20;
// Image configs are JSON of a few KiB; the limit only bounds memory on a hostile answer.
const CONFIG_LIMIT = 16 << 20;

/**
 * A client of the OCI distribution API v2 (Docker Hub, ghcr, GitLab, Harbor, a local
 * docker-registry): resolves references to a platform's image, lists tags and platforms, and
 * streams blobs verified against their digest and size. Holds kept-alive connections and cached
 * tokens; close() it when done.
 */
export class RegistryClient {
  private readonly http: RegistryHttp;
  private readonly options: RegistryClientOptions;
  private readonly policy: RetryPolicy;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.policy = {
      retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
      backoffMs: options.backoffMs ?? DEFAULT_RETRY_POLICY.backoffMs,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULT_RETRY_POLICY.maxBackoffMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_RETRY_POLICY.maxRetryAfterMs,
    };
    this.http = new RegistryHttp(new CredentialStore(options), this.policy, options);
  }

  /**
   * The image a reference names for one platform (default linux/amd64): from an index or
   * manifest list the first entry of that platform, as docker picks it; a single-platform image
   * must be of that platform when its config says which it is.
   */
  async resolve(
    reference: ImageReference | string,
    options: { platform?: Platform | string } = {},
  ): Promise<ResolvedImage> {
    const ref = toImageReference(reference);
    const want = toPlatform(options.platform);
    const top = await this.getManifest(ref);
    let fetched = top;
    let entryPlatform: Platform | undefined;
    if (top.manifest.kind === 'index') {
      const entries = indexEntries(top.manifest);
      const entry = entries.find((e) => platformMatches(want, e.platform));
      if (!entry)
        throw platformNotFound(
          ref,
          want,
          entries.map((e) => e.platform),
        );
      entryPlatform = entry.platform;
      fetched = await this.getManifest({ ...ref, digest: entry.digest }, entry.size);
    }
    const manifest = fetched.manifest;
    if (manifest.kind !== 'image') {
      throw new BargeError(
        'IMAGE_MANIFEST_UNSUPPORTED',
        `${formatImageReference(ref)} nests an index in an index`,
        {
          hint: 'docker cannot pull such images either; use the digest of the inner image',
          details: { reference: formatImageReference(ref), digest: fetched.digest },
        },
      );
    }
    const where = `${formatImageReference(ref)} (${fetched.digest})`;
    checkImageManifest(manifest, where);
    const configBytes = await this.readBlob(ref, manifest.config.digest, manifest.config.size, CONFIG_LIMIT);
    return resolvedImage({
      ref,
      want,
      manifestDigest: fetched.digest,
      manifest,
      config: parseImageConfig(configBytes, where),
      entryPlatform,
      indexDigest: top.manifest.kind === 'index' ? top.digest : undefined,
    });
  }

  /** The platforms a reference offers: the entries of its index, or the one of a single image. */
  async listPlatforms(reference: ImageReference | string): Promise<PlatformEntry[]> {
    const ref = toImageReference(reference);
    const top = await this.getManifest(ref);
    if (top.manifest.kind === 'index') return indexEntries(top.manifest);
    const config = parseImageConfig(
      await this.readBlob(ref, top.manifest.config.digest, top.manifest.config.size, CONFIG_LIMIT),
      formatImageReference(ref),
    );
    const platform = configPlatform(config) ?? { os: 'unknown', architecture: 'unknown' };
    return [{ platform, digest: top.digest, mediaType: top.mediaType, size: top.bytes.length }];
  }

  /** The manifest a reference names (by digest when it has one), checked against that digest. */
  async getManifest(reference: ImageReference | string, expectedSize?: number): Promise<FetchedManifest> {
    const ref = toImageReference(reference);
    const { res, body } = await this.http.fetchBody(this.manifestRequest(ref, 'GET'), MANIFEST_LIMIT);
    const algorithm = ref.digest?.split(':')[0] ?? 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    const name = formatImageReference(ref);
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw new BargeError(
        'BLOB_DIGEST_MISMATCH',
        `the manifest ${name} from ${ref.registry} has digest ${digest}`,
        {
          hint: 'the registry, a proxy or the network changed the manifest; try again, and tell the registry operator if it persists',
          details: { registry: ref.registry, expected: ref.digest, actual: digest },
        },
      );
    }
    if (expectedSize !== undefined && body.length !== expectedSize) {
      throw new BargeError(
        'BLOB_SIZE_MISMATCH',
        `the manifest ${name} is ${body.length} bytes, its index says ${expectedSize}`,
        {
          hint: 'the index and the manifest disagree; the image is broken in the registry',
          details: { registry: ref.registry, digest, size: expectedSize },
        },
      );
    }
    const contentType = res.headers['content-type'];
    const manifest = parseManifest(body, contentType, name);
    return { digest, mediaType: manifest.mediaType, manifest, bytes: body };
  }

  /**
   * The digest a reference points to now, from a HEAD (Docker-Content-Digest), which registries
   * do not count against pull limits; falls back to a GET when the header is missing.
   */
  async headManifest(reference: ImageReference | string): Promise<ManifestHead> {
    const ref = toImageReference(reference);
    let res: TransportResponse;
    try {
      res = await this.http.send(this.manifestRequest(ref, 'HEAD'));
    } catch (err) {
      // Some registries and caching proxies do not implement HEAD on manifests.
      if (!isBargeError(err, 'REGISTRY_PROTOCOL_ERROR') || err.details?.status !== 405) throw err;
      const fetched = await this.getManifest(ref);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
    }
    res.body.resume();
    const digest = res.headers['docker-content-digest'];
    if (typeof digest === 'string' && isDigest(digest)) {
      const length = res.headers['content-length'];
      return {
        digest,
        mediaType: res.headers['content-type']?.split(';')[0],
        size: length === undefined ? undefined : Number(length),
      };
    }
    const fetched = await this.getManifest(ref);
    return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
  }

  /** Every tag of a repository, following the Link header from page to page. */
  async listTags(repository: ImageReference | string): Promise<string[]> {
    return listTags(this.http, toImageReference(repository), this.options.tagPageSize ?? 1000);
  }

  /**
   * The bytes of a blob as a stream, checked against `digest` and `size`: the stream fails with
   * BLOB_DIGEST_MISMATCH or BLOB_SIZE_MISMATCH instead of ending when they disagree, so consumers
   * must not trust the data before the end. Broken downloads resume with Range requests.
   */
  openBlob(repository: ImageReference | string, digest: string, size: number): Readable {
    const ref = toImageReference(repository);
    if (!isDigest(digest) || !Number.isSafeInteger(size) || size < 0) {
      throw new BargeError('INVALID_ARGUMENT', `'${digest}' (${size} bytes) is not a blob descriptor`, {
        hint: 'pass the digest and size from the manifest',
      });
    }
    const what = `blob ${digest} of ${formatImageReference(ref, 'repository')}`;
    const request = (offset: number): RegistryRequest => ({
      ref,
      what,
      method: 'GET',
      path: `/v2/${ref.repository}/blobs/${digest}`,
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      notFound: (message) => notFoundError(ref, what, message),
    });
    return verifiedBlob({
      digest,
      size,
      what,
      registry: ref.registry,
      open: (offset) => this.http.send(request(offset)),
      policy: this.policy,
      onEvent: this.options.onEvent,
    });
  }

  /** A whole blob in memory (configs and other small blobs), verified; refuses more than `limit` bytes. */
  async readBlob(
    repository: ImageReference | string,
    digest: string,
    size: number,
    limit = CONFIG_LIMIT,
  ): Promise<Buffer> {
    if (size > limit) {
      throw new BargeError(
        'REGISTRY_PROTOCOL_ERROR',
        `blob ${digest} is ${size} bytes, more than the ${limit} read into memory`,
        {
          hint: 'stream large blobs with openBlob',
        },
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of this.openBlob(repository, digest, size)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.http.transport.close();
  }

  private manifestRequest(ref: ImageReference, method: 'GET' | 'HEAD'): RegistryRequest {
    if (ref.tag?.includes('*') && ref.digest === undefined) {
      throw new BargeError('INVALID_ARGUMENT', `${formatImageReference(ref)} has a wildcard tag`, {
        hint: 'expand wildcard tags against listTags() first',
      });
    }
    const name = formatImageReference(ref);
    return {
      ref,
      what: `the manifest of ${name}`,
      method,
      path: `/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`,
      headers: { Accept: MANIFEST_ACCEPT },
      notFound: (message) => notFoundError(ref, name, message),
    };
  }
}
