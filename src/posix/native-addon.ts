import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BargeError } from '../error/index.js';

/** The functions native/posix.c exports; argument checks and errno errors happen in C. */
export interface PosixAddon {
  listXattrs(path: string | Uint8Array): string[];
  getXattr(path: string | Uint8Array, name: string): Buffer;
  setXattr(path: string | Uint8Array, name: string, value: Uint8Array): void;
  removeXattr(path: string | Uint8Array, name: string): void;
  mknod(path: string | Uint8Array, mode: number, dev: number): void;
  makedev(major: number, minor: number): number;
  major(dev: number): number;
  minor(dev: number): number;
  treeFingerprint(root: string | Uint8Array): { digest: Buffer; entries: number; newestNs: bigint };
  /** syncfs(2) of the file system holding `path`, on libuv's thread pool. */
  syncFilesystem(path: string | Uint8Array): Promise<void>;
  /** zlib-format deflate by libdeflate (dlopen'ed); null when libdeflate is not installed. */
  zlibCompress(data: Uint8Array, level: number): Buffer | null;
}

// Relative to this file, so the same line works from dist/posix/ and from src/posix/ (tsx).
const ADDON_URL = new URL('../../build/Release/barge_posix.node', import.meta.url);

let addon: PosixAddon | undefined;

/**
 * The loaded addon. Loaded on first use, not at import, so modules that import posix but never
 * touch xattrs or device nodes keep working on a checkout where the addon was not built.
 */
export function posixAddon(): PosixAddon {
  if (addon !== undefined) return addon;
  const file = fileURLToPath(ADDON_URL);
  try {
    addon = createRequire(import.meta.url)(file) as PosixAddon;
    return addon;
  } catch (err) {
    const missing = (err as { code?: unknown }).code === 'MODULE_NOT_FOUND';
    throw new BargeError(
      'NATIVE_ADDON_UNAVAILABLE',
      missing
        ? `the native addon ${file} is not built`
        : `the native addon ${file} failed to load: ${(err as Error).message}`,
      {
        hint: 'run `npm run build:native` in the barge checkout (needs a C compiler, make, python3 and the Node headers)',
        cause: err,
        details: { path: file },
      },
    );
  }
}
