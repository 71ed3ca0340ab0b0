import path from 'node:path/posix';
import { BargeError } from '../error/index.js';

/** What names an image in the repository: the registry as users write it, the repository, a tag or digest. */
export interface ImageName {
  /** Registry host as it appears in user paths (Docker Hub: `registry.hub.docker.com`, as DUCC writes it). */
  displayRegistry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** Where flat roots live; itself a nested catalog so the root catalog stays small. */
export const FLAT_DIR = '/.flat';
/** Per-architecture links of multi-arch images (DUCC's --multi-arch layout). */
export const MULTIARCH_DIR = '/.multiarch';
/** Per-image metadata, DUCC-compatible (docs/ducc-compatibility.md §1.6). */
export const METADATA_DIR = '/.metadata';

/** The flat root of an image: `/.flat/<xx>/<config digest hex>` (DUCC's layout, by config digest). */
export function flatRoot(configDigest: string): string {
  const hex = configDigest.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new BargeError('IMAGE_MANIFEST_INVALID', `'${configDigest}' is not a sha256 config digest`);
  }
  return `${FLAT_DIR}/${hex.slice(0, 2)}/${hex}`;
}

/** The user-facing path `/<registry>/<repository>:<tag>` (digest-only names: `:sha256:<hex>`). */
export function userPath(name: ImageName): string {
  const suffix = name.tag ?? name.digest;
  if (!suffix)
    throw new BargeError(
      'IMAGE_REFERENCE_INVALID',
      `${name.displayRegistry}/${name.repository} has neither tag nor digest`,
    );
  const p = `/${name.displayRegistry}/${name.repository}:${suffix}`;
  if (p.split('/').some((part, i) => i > 0 && (part === '' || part === '.' || part === '..'))) {
    throw new BargeError('IMAGE_REFERENCE_INVALID', `'${p}' is not a safe repository path`);
  }
  return p;
}

/** The metadata directory of an image name: `/.metadata/<registry>/<repository>:<tag>`. */
export function metadataDir(name: ImageName): string {
  return `${METADATA_DIR}${userPath(name)}`;
}

/** A relative symlink target from `link` to `target` (both repository paths), as DUCC writes them. */
export function relativeTarget(link: string, target: string): string {
  return path.relative(path.dirname(link), target);
}
