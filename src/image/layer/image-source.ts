/**
 * The one shape every image source returns: an OCI layout and a docker-archive here, a registry
 * in src/image/registry/. The flattener reads `layers` in order through readLayer.
 */

/** One layer blob of an image, lowest first. */
export interface ImageLayer {
  /** Digest of the bytes open() delivers (the compressed blob for OCI layouts and registries). */
  digest: string;
  /** Their size in bytes. */
  size: number;
  /** The descriptor's media type, when the source has one (informative: readLayer sniffs the compression). */
  mediaType?: string;
  /**
   * A new stream of the blob, verified against `digest` and `size` while it flows: a mismatch is
   * thrown (BLOB_DIGEST_MISMATCH) by the stream itself, at the latest when it ends.
   */
  open(): Promise<NodeJS.ReadableStream | AsyncIterable<Buffer>>;
}

/** An image, ready to be flattened: its parsed config and its layers. */
export interface ImageSource {
  /** The image config (OCI image spec config.md), parsed; its digest has been verified. */
  config: ImageConfig;
  configDigest: string;
  /** Digest of the image manifest, when the source has one (not docker-archive). */
  manifestDigest?: string;
  layers: ImageLayer[];
}

/** The parts of an image config (OCI image spec, config.md) barge uses; the rest is kept as parsed. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    [key: string]: unknown;
  } | null;
  /** `diff_ids[i]` is the digest of layer i uncompressed. */
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}
