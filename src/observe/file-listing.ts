import {
  type Dirent,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import type { RepositoryReader } from '../repository/index.js';

/** One entry of a directory listing. */
export interface FileView {
  name: string;
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'unknown';
  /** Permission bits in octal, e.g. `0755`. */
  mode: string;
  size: number;
  mtime: string;
  uid: number;
  gid: number;
  /** Symlink target ('' for other types). */
  target: string;
  /** The mountpoint of a nested catalog: listing it loads another catalog. */
  nestedCatalog: boolean;
  /** Chunks of a chunked file (0 otherwise). */
  chunks: number;
  hash: string | null;
}

/** A directory of one revision. */
export interface DirectoryView {
  path: string;
  /** Mountpoint of the catalog that holds the directory's entries ('/' for the root catalog). */
  catalog: string;
  entries: FileView[];
}

const TYPES: [number, FileView['type']][] = [
  [S_IFDIR, 'dir'],
  [S_IFREG, 'file'],
  [S_IFLNK, 'symlink'],
  [S_IFIFO, 'fifo'],
  [S_IFSOCK, 'socket'],
  [S_IFCHR, 'char'],
  [S_IFBLK, 'block'],
];

/** A repository path as the browser sends it ('/', '/a/b'), normalised to the catalog form ('', '/a/b'). */
export function browsePath(raw: string | null): string {
  const p = (raw ?? '/').replace(/\/+$/, '');
  if (p === '') return '';
  const parts = p.split('/');
  if (
    p.length > 4096 ||
    parts[0] !== '' ||
    parts.slice(1).some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))
  ) {
    throw new BargeError('INVALID_PATH', `'${raw}' is not a repository path`, {
      hint: 'give an absolute path such as /sw/v1, without . or .. components',
    });
  }
  return p;
}

/** Lists directory `dir` ('' for the root) of the revision `reader` reads, across nested catalogs. */
export async function listDirectory(reader: RepositoryReader, dir: string): Promise<DirectoryView> {
  const d = await reader.lookup(dir);
  if (!d || (d.mode & S_IFMT) !== S_IFDIR) {
    throw new BargeError('INVALID_PATH', `${dir || '/'} is not a directory of this revision`);
  }
  // A mountpoint's entry lives in the parent catalog; its children are in the nested one.
  const catalog = await reader.catalogFor(dir);
  return {
    path: dir || '/',
    catalog: catalog.mountpoint || '/',
    entries: catalog.list(dir).map(view),
  };
}

function view(d: Dirent): FileView {
  const kind = d.mode & S_IFMT;
  return {
    name: d.name,
    path: d.path,
    type: TYPES.find(([bits]) => bits === kind)?.[1] ?? 'unknown',
    mode: (d.mode & 0o7777).toString(8).padStart(4, '0'),
    size: d.size,
    mtime: new Date(d.mtime * 1000).toISOString(),
    uid: d.uid,
    gid: d.gid,
    target: d.symlink,
    nestedCatalog: d.nestedMountpoint,
    chunks: d.chunks.length,
    hash: d.hash,
  };
}
