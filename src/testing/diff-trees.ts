import { major, minor } from '../posix/index.js';
import { comparePaths, type TreeEntry } from './snapshot-tree.js';

/** Aspects of entries diffTrees can be told not to compare. */
export type DiffIgnore =
  /** All permission and special bits. */
  | 'mode'
  /** setuid, setgid and sticky only (a non-root extract drops them). */
  | 'specialBits'
  /** uid and gid. */
  | 'owners'
  /** Every mtime. */
  | 'mtime'
  /** Directory mtimes (they change whenever an entry is added or removed). */
  | 'directoryMtime'
  /** Symlink mtimes (many tools cannot set them). */
  | 'symlinkMtime'
  /** The nanoseconds of mtimes (catalogs before schema revision 7 keep whole seconds). */
  | 'mtimeNs'
  | 'xattrs'
  /** Which names share an inode. */
  | 'hardlinks';

/** How diffTrees compares. */
export interface DiffTreesOptions {
  ignore?: readonly DiffIgnore[];
  /** Entries to leave out entirely, e.g. `(p) => p.endsWith('/.cvmfscatalog')`. */
  skip?: (path: string) => boolean;
  /** Names of the two sides in messages; default ['a', 'b']. */
  labels?: readonly [string, string];
  /** Differences listed before the rest is summarized; default 100. */
  limit?: number;
}

/** Paths as the messages show them: '.' for the root, JSON-quoted when blanks or controls would mislead. */
function show(p: string): string {
  if (p === '') return '.';
  return /[\u0000-\u001f\u007f]|^\s|\s$/.test(p) ? JSON.stringify(p) : p;
}

const octal = (mode: number) => `0o${mode.toString(8).padStart(4, '0')}`;
const dev = (rdev: number) => `${major(rdev)}:${minor(rdev)}`;
const hex = (value: string) =>
  value.length > 32 ? `${value.slice(0, 32)}…(${value.length / 2} bytes)` : value;

/**
 * The differences between two snapshots, one human-readable line each; empty when identical.
 * Fields absent on both sides (owners, mtimes when not snapshotted) are not compared. Below a
 * directory that exists on one side only, entries are counted rather than listed.
 */
export function diffTrees(
  a: readonly TreeEntry[],
  b: readonly TreeEntry[],
  options: DiffTreesOptions = {},
): string[] {
  const ignore = new Set(options.ignore ?? []);
  const [la, lb] = options.labels ?? ['a', 'b'];
  const limit = options.limit ?? 100;
  const keep = (e: TreeEntry) => !options.skip?.(e.path);
  const mapA = new Map(a.filter(keep).map((e) => [e.path, e]));
  const mapB = new Map(b.filter(keep).map((e) => [e.path, e]));
  const groupsA = groups(mapA);
  const groupsB = groups(mapB);
  const out: string[] = [];
  // Directories present on one side only (or a directory on one side, something else on the other).
  const oneSided = new Set<string>();
  const underOneSided = (p: string) => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1))
      if (oneSided.has(p.slice(0, i))) return true;
    return oneSided.has('') && p !== '';
  };
  const inside = (map: Map<string, TreeEntry>, dir: string) =>
    [...map.keys()].filter((p) => p !== dir && (dir === '' || p.startsWith(`${dir}/`))).length;
  const allPaths = [...new Set([...mapA.keys(), ...mapB.keys()])].sort(comparePaths);

  for (const p of allPaths) {
    if (underOneSided(p)) continue;
    const ea = mapA.get(p);
    const eb = mapB.get(p);
    if (!ea || !eb) {
      const [e, side, map] = ea ? [ea, la, mapA] : [eb as TreeEntry, lb, mapB];
      const more = e.type === 'directory' ? `, with ${inside(map, p)} entries inside` : '';
      out.push(`${show(p)}: only in ${side} (${e.type}${more})`);
      if (e.type === 'directory') oneSided.add(p);
      continue;
    }
    if (ea.type !== eb.type) {
      out.push(`${show(p)}: ${ea.type} in ${la}, ${eb.type} in ${lb}`);
      if (ea.type === 'directory' || eb.type === 'directory') oneSided.add(p);
      continue;
    }
    const say = (what: string, va: unknown, vb: unknown) =>
      out.push(`${show(p)}: ${what} ${va} in ${la}, ${vb} in ${lb}`);
    if (!ignore.has('mode')) {
      const bits = ignore.has('specialBits') ? 0o777 : 0o7777;
      if ((ea.mode & bits) !== (eb.mode & bits)) say('mode', octal(ea.mode), octal(eb.mode));
    }
    if (ea.type === 'file' && (ea.size !== eb.size || ea.sha256 !== eb.sha256)) {
      if (ea.size !== eb.size) say('size', ea.size, eb.size);
      else say('content (same size) sha256', ea.sha256?.slice(0, 16), eb.sha256?.slice(0, 16));
    }
    if (ea.target !== eb.target) say('symlink target', JSON.stringify(ea.target), JSON.stringify(eb.target));
    if (ea.rdev !== undefined && eb.rdev !== undefined && ea.rdev !== eb.rdev) {
      say('device', dev(ea.rdev), dev(eb.rdev));
    }
    if (!ignore.has('owners')) {
      if (ea.uid !== eb.uid) say('uid', ea.uid ?? 'absent', eb.uid ?? 'absent');
      if (ea.gid !== eb.gid) say('gid', ea.gid ?? 'absent', eb.gid ?? 'absent');
    }
    const mtimeIgnored =
      ignore.has('mtime') ||
      (ea.type === 'directory' && ignore.has('directoryMtime')) ||
      (ea.type === 'symlink' && ignore.has('symlinkMtime'));
    if (!mtimeIgnored) {
      const ns = !ignore.has('mtimeNs');
      if (ea.mtime !== eb.mtime || (ns && ea.mtimeNs !== eb.mtimeNs)) {
        const fmt = (e: TreeEntry) =>
          e.mtime === undefined
            ? 'absent'
            : ns
              ? `${e.mtime}.${String(e.mtimeNs ?? 0).padStart(9, '0')}`
              : `${e.mtime}`;
        say('mtime', fmt(ea), fmt(eb));
      }
    }
    if (!ignore.has('xattrs')) diffXattrs(ea, eb, (msg) => out.push(`${show(p)}: ${msg}`), la, lb);
    if (!ignore.has('hardlinks')) {
      const na = (ea.nlinkGroup && groupsA.get(ea.nlinkGroup)?.filter((x) => x !== p)) || [];
      const nb = (eb.nlinkGroup && groupsB.get(eb.nlinkGroup)?.filter((x) => x !== p)) || [];
      if (na.join('\0') !== nb.join('\0')) {
        const list = (names: string[]) =>
          names.length ? `[${names.map(show).join(', ')}]` : 'no other name';
        say('hardlinked with', list(na), list(nb));
      }
    }
  }
  if (out.length > limit) return [...out.slice(0, limit), `… and ${out.length - limit} more differences`];
  return out;
}

/** Members of each hardlink group, sorted: the names one inode has in a snapshot. */
function groups(map: Map<string, TreeEntry>): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const e of map.values()) {
    if (e.nlinkGroup !== undefined) result.set(e.nlinkGroup, [...(result.get(e.nlinkGroup) ?? []), e.path]);
  }
  for (const names of result.values()) names.sort(comparePaths);
  return result;
}

function diffXattrs(
  ea: TreeEntry,
  eb: TreeEntry,
  report: (msg: string) => void,
  la: string,
  lb: string,
): void {
  const xa = ea.xattrs ?? {};
  const xb = eb.xattrs ?? {};
  for (const name of new Set([...Object.keys(xa), ...Object.keys(xb)])) {
    const va = xa[name];
    const vb = xb[name];
    if (va === undefined) report(`xattr ${name} only in ${lb}`);
    else if (vb === undefined) report(`xattr ${name} only in ${la}`);
    else if (va !== vb) report(`xattr ${name} is ${hex(va)} in ${la}, ${hex(vb)} in ${lb}`);
  }
}
