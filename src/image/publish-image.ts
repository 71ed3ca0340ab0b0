import { type Dirent, parentPath, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import type { HashAlgorithm } from '../object/index.js';
import { CATALOG_MARKER, directoryEntry, type ObjectWriter, type WorkingTree } from '../publish/index.js';
import { apptainerFiles } from './apptainer-files.js';
import { ensureDirectories, type FlattenStats, flattenImage } from './flatten-image.js';
import { FLAT_DIR, flatRoot, type ImageName, metadataDir, relativeTarget, userPath } from './image-layout.js';
import { type ImageState, layerChains } from './image-state.js';
import type { ImageSource } from './layer/index.js';

/** Options of publishImage. */
export interface PublishImageOptions {
  tree: WorkingTree;
  writer: ObjectWriter;
  algorithm: HashAlgorithm;
  /** The name users will run it by; omitted: only the flat root is made. */
  name?: ImageName;
  /** The platform the image was chosen for (recorded in barge.json). */
  platform?: string;
  /** Chain index for reusing flattened bases. */
  state?: ImageState;
  /** The digest the name resolved to (recorded in barge.json; sync compares it). */
  sourceDigest?: string;
  /** Called after each layer is applied (for progress displays). */
  onLayer?: (layer: number, layers: number, stats: FlattenStats) => void;
}

/** What publishImage did. */
export interface PublishedImage {
  root: string;
  link?: string;
  /** 'present': the flat root existed (same config digest); 'base': copied from a base with `baseLayers` equal layers; 'none': flattened from scratch. */
  reused: 'present' | 'base' | 'none';
  baseLayers: number;
  flatten?: FlattenStats;
  /** Record in the chain index once the revision is committed. */
  chain?: { chain: string; root: string; layers: number };
}

/**
 * Puts one image into the tree in DUCC's layout: its flat root `/.flat/<xx>/<config digest>` (a
 * nested catalog) with the Apptainer files, the user-facing relative symlink
 * `/<registry>/<repository>:<tag>`, and `/.metadata/<registry>/<repository>:<tag>/`. An image whose
 * config digest is already there costs nothing; one whose first layers equal another image's
 * whole layer list copies that flat root (entries only, content shared) and reads only its own
 * layers.
 */
export async function publishImage(
  image: ImageSource,
  options: PublishImageOptions,
): Promise<PublishedImage> {
  const { tree, writer, algorithm } = options;
  const root = flatRoot(image.configDigest);
  const chains = layerChains(image.layers.map((l) => l.digest));
  const result: PublishedImage = { root, reused: 'none', baseLayers: 0 };
  await ensureDirectories(tree, FLAT_DIR, algorithm);
  await putFile(tree, writer, `${FLAT_DIR}/${CATALOG_MARKER}`, Buffer.alloc(0), 0o644, 0, algorithm);

  if (await tree.get(`${root}/${CATALOG_MARKER}`)) {
    result.reused = 'present';
  } else {
    const base = await findBase(tree, options.state, chains, root);
    if (base) {
      await ensureDirectories(tree, parentPath(root), algorithm);
      if (await tree.get(root)) await tree.remove(root);
      await tree.copySubtree(base.root, root);
      result.reused = 'base';
      result.baseLayers = base.layers;
    }
    const onLayer = options.onLayer;
    result.flatten = await flattenImage(image, {
      tree,
      writer,
      root,
      algorithm,
      ...(base ? { base: { layers: base.layers } } : {}),
      ...(onLayer
        ? { onLayer: (i: number, stats: FlattenStats) => onLayer(i + 1, image.layers.length, stats) }
        : {}),
    });
    await addApptainerFiles(image, options, root);
    const full = chains[chains.length - 1];
    if (full) result.chain = { chain: full, root, layers: chains.length };
  }

  if (options.name) {
    const link = userPath(options.name);
    await putSymlink(tree, link, relativeTarget(link, root), algorithm);
    result.link = link;
    const meta = metadataDir(options.name);
    const mtime = createdSeconds(image);
    await putFile(tree, writer, `${meta}/manifest.json`, duccManifest(image), 0o644, mtime, algorithm);
    const barge = {
      reference: link.slice(1),
      sourceDigest: options.sourceDigest ?? image.manifestDigest ?? image.configDigest,
      manifestDigest: image.manifestDigest ?? null,
      configDigest: image.configDigest,
      platform:
        options.platform ??
        [image.config.os, image.config.architecture, image.config.variant].filter(Boolean).join('/'),
      layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })),
      root,
    };
    await putFile(
      tree,
      writer,
      `${meta}/barge.json`,
      Buffer.from(`${JSON.stringify(barge, null, 2)}\n`),
      0o644,
      mtime,
      algorithm,
    );
  }
  return result;
}

async function findBase(
  tree: WorkingTree,
  state: ImageState | undefined,
  chains: string[],
  root: string,
): Promise<{ root: string; layers: number } | undefined> {
  if (!state) return undefined;
  for (let k = chains.length - 1; k >= 1; k--) {
    const hit = state.rootOf(chains[k - 1] as string);
    if (hit && hit.root !== root && hit.layers === k && (await isFlatRoot(tree, hit.root))) return hit;
  }
  return undefined;
}

/**
 * Whether `root` is a flat root in this tree: a nested catalog with its marker. A stored catalog
 * is taken as it is (every stored nested catalog has its marker), so the base's 14,000 entries
 * are not loaded just to be asked this.
 */
async function isFlatRoot(tree: WorkingTree, root: string): Promise<boolean> {
  const node = await tree.catalogAt(root);
  if (!node) return false;
  return !node.loaded || node.entries.has(`${root}/${CATALOG_MARKER}`);
}

/** Adds the Apptainer files; never through a symlink the image has on the way. */
async function addApptainerFiles(
  image: ImageSource,
  options: PublishImageOptions,
  root: string,
): Promise<void> {
  const { tree, writer, algorithm } = options;
  const mtime = createdSeconds(image);
  for (const s of apptainerFiles(image.config)) {
    const full = `${root}/${s.path}`;
    if (await throughSymlink(tree, root, full)) continue;
    const existing = await tree.get(full);
    if (existing && s.onlyIfAbsent) continue;
    if (s.type === 'directory') {
      if (existing && (existing.mode & S_IFMT) === S_IFDIR) continue;
      await tree.put({ ...directoryEntry(full, algorithm), mode: S_IFDIR | s.mode, uid: 0, gid: 0, mtime });
    } else if (s.type === 'symlink') {
      await putSymlink(tree, full, s.target as string, algorithm, mtime);
    } else {
      await putFile(tree, writer, full, s.content ?? Buffer.alloc(0), s.mode, mtime, algorithm);
    }
  }
}

async function throughSymlink(tree: WorkingTree, root: string, full: string): Promise<boolean> {
  for (let p = parentPath(full); p.length > root.length; p = parentPath(p)) {
    const d = await tree.get(p);
    if (d && (d.mode & S_IFMT) === S_IFLNK) return true;
  }
  return false;
}

/** Puts a small regular file with the given content (owned by root). */
export async function putFile(
  tree: WorkingTree,
  writer: ObjectWriter,
  path: string,
  data: Buffer,
  mode: number,
  mtime: number,
  algorithm: HashAlgorithm,
): Promise<void> {
  await ensureDirectories(tree, parentPath(path), algorithm);
  const content = await writer.ingestBuffer(data);
  const entry: Dirent = {
    ...directoryEntry(path, algorithm),
    mode: S_IFREG | mode,
    size: data.length,
    uid: 0,
    gid: 0,
    mtime,
    linkcount: 1,
    hash: content.hash,
    chunks: content.chunks,
  };
  await tree.put(entry);
}

/** Puts a symlink, replacing a symlink but never a directory or file that users put there. */
export async function putSymlink(
  tree: WorkingTree,
  path: string,
  target: string,
  algorithm: HashAlgorithm,
  mtime = 0,
): Promise<void> {
  await ensureDirectories(tree, parentPath(path), algorithm);
  const existing = await tree.get(path);
  if (existing && (existing.mode & S_IFMT) !== S_IFLNK) {
    throw new BargeError(
      'INVALID_PATH',
      `${path} exists and is not a symlink; barge will not replace it with an image link`,
      {
        hint: 'remove or rename what is there, or publish the image under another name',
      },
    );
  }
  await tree.put({
    ...directoryEntry(path, algorithm),
    mode: S_IFLNK | 0o777,
    size: Buffer.byteLength(target),
    symlink: target,
    uid: 0,
    gid: 0,
    mtime,
    linkcount: 1,
  });
}

/** The image's creation time (config `created`), else 0: synthetic files stay byte-identical across runs. */
function createdSeconds(image: ImageSource): number {
  const t = image.config.created ? Date.parse(image.config.created) : Number.NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

/** The manifest as DUCC stores it in .metadata (capitalised keys), so DUCC's GC and skip checks keep working. */
function duccManifest(image: ImageSource): Buffer {
  return Buffer.from(
    JSON.stringify({
      SchemaVersion: 2,
      MediaType: 'application/vnd.oci.image.manifest.v1+json',
      Config: { MediaType: 'application/vnd.oci.image.config.v1+json', Size: 0, Digest: image.configDigest },
      Layers: image.layers.map((l) => ({
        MediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip',
        Size: l.size,
        Digest: l.digest,
      })),
    }),
  );
}
