import { S_IFDIR, S_IFLNK, S_IFMT } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import type { ObjectWriter, Publisher, PublishResult } from '../publish/index.js';
import type { FlattenStats } from './flatten-image.js';
import { MULTIARCH_DIR, metadataDir, relativeTarget, userPath } from './image-layout.js';
import { readRecord } from './image-records.js';
import { ImageState } from './image-state.js';
import { nameOf, type OpenImageOptions, openImage } from './open-image.js';
import { type PublishedImage, publishImage, putFile, putSymlink } from './publish-image.js';
import { formatPlatform, type PlatformEntry, parseImageReference } from './registry/index.js';

/** The outcome of adding one image. */
export interface AddImageResult {
  reference: string;
  status: 'published' | 'unchanged';
  revision: number;
  /** Bytes of new objects stored: what the image added beyond what the repository held. */
  bytesWritten?: number;
  image?: PublishedImage;
  seconds: number;
}

/** Options of addImage. */
export type AddImageOptions = OpenImageOptions & {
  onLayer?: (layer: number, layers: number, stats: FlattenStats) => void;
};

/**
 * Adds one image as one revision: flattened (or reused), linked, recorded. An image whose source
 * digest equals the recorded one publishes nothing. A failure leaves the repository as it was.
 * The reference counts as added by hand: no wishlist sync removes it (only `images rm`).
 */
export async function addImage(
  publisher: Publisher,
  spec: string,
  options: AddImageOptions,
): Promise<AddImageResult> {
  const result = await addReference(publisher, spec, options);
  const state = new ImageState(publisher.paths.state);
  try {
    state.recordAddedByHand(result.reference);
  } finally {
    state.close();
  }
  return result;
}

/** addImage for a wishlist sync: the reference is the wishlist's to remove. */
export async function addReference(
  publisher: Publisher,
  spec: string,
  options: AddImageOptions,
): Promise<AddImageResult> {
  const started = Date.now();
  if (!options.platform && !spec.startsWith('oci:') && !spec.startsWith('docker-archive:')) {
    const ref = parseImageReference(spec.replace(/^docker:\/\//, ''));
    const platforms = (await options.client.listPlatforms(ref)).filter(
      (e) => e.platform.architecture !== 'unknown',
    );
    if (platforms.length > 1) return addMultiArch(publisher, spec, platforms, options, started);
  }
  const opened = await openImage(spec, options);
  const reference = userPath(opened.name).slice(1);
  const recorded = await readRecord(publisher, opened.name);
  if (recorded && recorded.sourceDigest === opened.sourceDigest && recorded.platform === opened.platform) {
    return {
      reference,
      status: 'unchanged',
      revision: publisher.manifest.revision,
      seconds: (Date.now() - started) / 1000,
    };
  }
  const state = new ImageState(publisher.paths.state);
  try {
    let image: PublishedImage | undefined;
    const result: PublishResult = await publisher.applyChanges(async (tree, writer: ObjectWriter) => {
      image = await publishImage(opened.source, {
        tree,
        writer,
        algorithm: publisher.config.hashAlgorithm,
        name: opened.name,
        platform: opened.platform,
        sourceDigest: opened.sourceDigest,
        state,
        ...(options.onLayer ? { onLayer: options.onLayer } : {}),
      });
    });
    if (image?.chain) state.record(image.chain.chain, image.chain.root, image.chain.layers);
    if (result.published && image && image.reused !== 'present') state.recordMade(image.root);
    return {
      reference,
      status: result.published ? 'published' : 'unchanged',
      revision: result.revision,
      bytesWritten: result.bytesWritten,
      ...(image ? { image } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    state.close();
  }
}

/** Where clients whose `uname -m` differs from the OCI name find an architecture (DUCC's aliases). */
const ARCH_ALIASES: [alias: string, candidates: string[]][] = [
  ['x86_64', ['amd64']],
  ['x86-64', ['amd64']],
  ['aarch64', ['arm64', 'arm64:v8']],
  ['arm64', ['arm64:v8']],
  ['armhf', ['arm']],
  ['armv7l', ['arm:v7', 'arm']],
  ['armel', ['arm:v6']],
  ['i386', ['386']],
  ['i686', ['386']],
];

/**
 * Adds every platform of a multi-arch image, as DUCC does with --multi-arch: one flat root per
 * platform, `/.multiarch/<arch>[:<variant>]/<name>` linking to each, alias links for the names
 * `uname -m` gives (CVMFS_ARCH), and the user path a CVMFS variant symlink on
 * `$(CVMFS_ARCH:-amd64)` that each client expands to its own architecture.
 */
async function addMultiArch(
  publisher: Publisher,
  spec: string,
  platforms: PlatformEntry[],
  options: OpenImageOptions,
  started: number,
): Promise<AddImageResult> {
  const first = await openImage(spec, {
    ...options,
    platform: formatPlatform((platforms[0] as PlatformEntry).platform),
  });
  const name = first.name;
  const reference = userPath(name).slice(1);
  const recorded = await readRecord(publisher, name);
  if (recorded && recorded.sourceDigest === first.sourceDigest && recorded.platform === 'multiarch') {
    return {
      reference,
      status: 'unchanged',
      revision: publisher.manifest.revision,
      seconds: (Date.now() - started) / 1000,
    };
  }
  const state = new ImageState(publisher.paths.state);
  const algorithm = publisher.config.hashAlgorithm;
  const chains: NonNullable<PublishedImage['chain']>[] = [];
  const made: string[] = [];
  try {
    let image: PublishedImage | undefined;
    const result = await publisher.applyChanges(async (tree, writer) => {
      const roots: { platform: string; arch: string; root: string; configDigest: string }[] = [];
      for (const entry of platforms) {
        const opened =
          entry === platforms[0]
            ? first
            : await openImage(spec, { ...options, platform: formatPlatform(entry.platform) });
        const published = await publishImage(opened.source, {
          tree,
          writer,
          algorithm,
          state,
          platform: opened.platform,
        });
        if (published.chain) chains.push(published.chain);
        if (published.reused !== 'present') made.push(published.root);
        const arch = entry.platform.variant
          ? `${entry.platform.architecture}:${entry.platform.variant}`
          : entry.platform.architecture;
        const link = `${MULTIARCH_DIR}/${arch}${userPath(name)}`;
        await putSymlink(tree, link, relativeTarget(link, published.root), algorithm);
        roots.push({
          platform: opened.platform,
          arch,
          root: published.root,
          configDigest: opened.source.configDigest,
        });
        image ??= published;
      }
      for (const [alias, candidates] of ARCH_ALIASES) {
        const existing = await tree.get(`${MULTIARCH_DIR}/${alias}`);
        if (existing && (existing.mode & S_IFMT) !== S_IFLNK) continue;
        for (const c of candidates) {
          if (await tree.get(`${MULTIARCH_DIR}/${c}`)) {
            await putSymlink(tree, `${MULTIARCH_DIR}/${alias}`, c, algorithm);
            break;
          }
        }
      }
      const link = userPath(name);
      // Stored verbatim; the client expands $(CVMFS_ARCH:-amd64) from its own environment.
      await putSymlink(
        tree,
        link,
        relativeTarget(link, `${MULTIARCH_DIR}/$(CVMFS_ARCH:-amd64)${link}`),
        algorithm,
      );
      const main = roots.find((r) => r.arch === 'amd64') ?? (roots[0] as (typeof roots)[number]);
      const record = {
        reference,
        sourceDigest: first.sourceDigest,
        manifestDigest: null,
        configDigest: main.configDigest,
        platform: 'multiarch',
        platforms: roots,
        layers: [],
        root: main.root,
      };
      await putFile(
        tree,
        writer,
        `${metadataDir(name)}/barge.json`,
        Buffer.from(`${JSON.stringify(record, null, 2)}\n`),
        0o644,
        0,
        algorithm,
      );
    });
    for (const c of chains) state.record(c.chain, c.root, c.layers);
    if (result.published) for (const root of made) state.recordMade(root);
    return {
      reference,
      status: result.published ? 'published' : 'unchanged',
      revision: result.revision,
      ...(image ? { image: { ...image, link: userPath(name) } } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    state.close();
  }
}

/**
 * Removes an image name: its symlink and metadata, in one revision; it is no longer added by hand
 * nor managed by any wishlist. The flat root stays until gc has found nothing naming it for the
 * grace (images.graceDays; other tags may share it, running jobs may still read it).
 */
export async function removeImage(publisher: Publisher, ref: string): Promise<PublishResult> {
  const name = nameOf(ref);
  const link = userPath(name);
  const result = await publisher.applyChanges(async (tree) => {
    if (!(await tree.get(link))) {
      throw new BargeError('IMAGE_NOT_FOUND', `${link.slice(1)} is not in ${publisher.paths.fqrn}`, {
        hint: "list images with 'barge images ls'",
      });
    }
    await tree.remove(link);
    await tree.remove(metadataDir(name));
    // A multi-arch name also has one link per architecture.
    for (const arch of await tree.list(MULTIARCH_DIR)) {
      if ((arch.mode & S_IFMT) === S_IFDIR) await tree.remove(`${arch.path}${link}`);
    }
  });
  const state = new ImageState(publisher.paths.state);
  try {
    state.forgetReference(link.slice(1));
  } finally {
    state.close();
  }
  return result;
}
