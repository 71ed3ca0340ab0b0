// Builds the benchmark input: a deterministic copy of whole directories from /usr, about
// `targetBytes` in about `targetFiles` regular files, symlinks kept as symlinks. A Debian minbase
// root would be nicer but needs debootstrap and a mirror; /usr holds the same kinds of files
// (shared libraries, Python and Perl modules, docs, locales) and is on every Debian machine.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';

/** Bumped whenever the selection changes, so cached trees are rebuilt. */
export const TREE_VERSION = 1;

// Larger files are left out: one 100 MB libLLVM would be half the tree. 32 MB still exercises
// chunking (cvmfs cuts files above 4 MB).
const MAX_FILE_BYTES = 32 << 20;

/** Stats of a built tree (also its cache manifest). */
export function readTreeManifest(manifestFile) {
  try {
    return JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Copies a selection of `roots` into `dest` (replaced) and writes `manifestFile` last, so an
 * interrupted build is never mistaken for a finished one.
 */
export function buildUsrTree(dest, manifestFile, { roots, targetBytes, targetFiles }) {
  fs.rmSync(manifestFile, { force: true });
  fs.rmSync(dest, { recursive: true, force: true });
  const units = [];
  for (const root of roots)
    if (fs.existsSync(root)) units.push(...partition(scan(root), targetBytes, targetFiles));
  const chosen = choose(units, targetBytes, targetFiles);
  const result = copy(chosen, dest);
  const manifest = {
    version: TREE_VERSION,
    roots,
    targetBytes,
    targetFiles,
    ...result,
    builtAtMs: Date.now(),
  };
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** A directory's subtree: entries (lstat'ed), subdirectories, totals of regular files. */
function scan(dir) {
  const node = { dir, loose: [], subdirs: [], bytes: 0, files: 0 };
  for (const name of fs.readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      const sub = scan(abs);
      node.subdirs.push(sub);
      node.bytes += sub.bytes;
      node.files += sub.files;
    } else if (st.isSymbolicLink() || (st.isFile() && st.size <= MAX_FILE_BYTES)) {
      node.loose.push({ abs, size: st.isFile() ? st.size : 0, file: st.isFile() });
      if (st.isFile()) {
        node.bytes += st.size;
        node.files++;
      }
    }
  }
  return node;
}

/**
 * Cuts the scanned trees into units of at most 1/20 of either budget: whole directories where
 * they fit, else their subdirectories and runs of their loose entries.
 */
function partition(node, targetBytes, targetFiles) {
  const capBytes = targetBytes / 20;
  const capFiles = targetFiles / 20;
  if (node.bytes <= capBytes && node.files <= capFiles) {
    return [{ key: node.dir, entries: collect(node), bytes: node.bytes, files: node.files }];
  }
  const units = node.subdirs.flatMap((s) => partition(s, targetBytes, targetFiles));
  let run = null;
  for (const e of node.loose) {
    if (!run || run.bytes + e.size > capBytes || run.files + (e.file ? 1 : 0) > capFiles) {
      run = { key: e.abs, entries: [], bytes: 0, files: 0 };
      units.push(run);
    }
    run.entries.push(e);
    run.bytes += e.size;
    run.files += e.file ? 1 : 0;
  }
  return units;
}

function collect(node) {
  return [
    ...node.loose,
    ...node.subdirs.flatMap(collect),
    ...node.subdirs.map((s) => ({ abs: s.dir, dir: true })),
  ];
}

/**
 * Picks units in an order fixed by a hash of their path (a sample spread over all of /usr, the
 * same on every run on one machine), from "heavy" units (large files) while bytes lag behind
 * files and from "light" ones otherwise, so both budgets fill together; units that would
 * overshoot a budget by more than 2% are passed over.
 */
function choose(units, targetBytes, targetFiles) {
  const order = (u) => createHash('sha256').update(u.key).digest('hex');
  const sorted = units
    .filter((u) => u.entries.length > 0)
    .map((u) => ({ u, k: order(u) }))
    .sort((a, b) => (a.k < b.k ? -1 : 1))
    .map((x) => x.u);
  const average = targetBytes / targetFiles;
  const heavy = sorted.filter((u) => u.files > 0 && u.bytes / u.files > average);
  const light = sorted.filter((u) => !(u.files > 0 && u.bytes / u.files > average));
  const chosen = [];
  let bytes = 0;
  let files = 0;
  while (heavy.length + light.length > 0) {
    if (bytes >= 0.98 * targetBytes && files >= 0.98 * targetFiles) break;
    const wantHeavy = bytes / targetBytes < files / targetFiles;
    const queue = (wantHeavy && heavy.length) || !light.length ? heavy : light;
    const u = queue.shift();
    if (bytes + u.bytes > 1.02 * targetBytes || files + u.files > 1.02 * targetFiles) continue;
    chosen.push(u);
    bytes += u.bytes;
    files += u.files;
  }
  return chosen;
}

/** Copies the chosen units under `dest` (paths relative to /usr), with modes and mtimes. */
function copy(units, dest) {
  fs.mkdirSync(dest, { recursive: true });
  const dirs = new Set();
  const counts = { files: 0, bytes: 0, symlinks: 0, dirs: 0, skipped: 0, distinctContents: 0 };
  const seen = new Set();
  let duplicateBytes = 0;
  const fingerprint = createHash('sha256');
  const target = (abs) => path.join(dest, path.relative('/usr', abs));
  const addParents = (abs) => {
    for (let d = abs; d !== '/usr' && d !== '/'; d = path.dirname(d)) dirs.add(d);
  };
  const entries = units.flatMap((u) => u.entries).sort((a, b) => (a.abs < b.abs ? -1 : 1));
  for (const e of entries) {
    addParents(e.dir ? e.abs : path.dirname(e.abs));
    if (e.dir) continue;
    const to = target(e.abs);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    const st = fs.lstatSync(e.abs);
    try {
      if (st.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(e.abs), to);
        fs.lutimesSync(to, st.atime, st.mtime);
        counts.symlinks++;
        fingerprint.update(`${e.abs} -> ${fs.readlinkSync(e.abs)}\n`);
        continue;
      }
      const data = fs.readFileSync(e.abs);
      fs.writeFileSync(to, data, { mode: st.mode & 0o7777 });
      fs.chmodSync(to, st.mode & 0o7777);
      fs.utimesSync(to, st.atime, st.mtime);
      const sha = createHash('sha256').update(data).digest('hex');
      if (seen.has(sha)) duplicateBytes += data.length;
      seen.add(sha);
      counts.files++;
      counts.bytes += data.length;
      fingerprint.update(`${e.abs} ${sha}\n`);
    } catch (err) {
      // Unreadable as this user (e.g. 0600 root files when not root): leave the file out.
      if (err.code !== 'EACCES' && err.code !== 'EPERM') throw err;
      fs.rmSync(to, { force: true });
      counts.skipped++;
    }
  }
  // Directories last and deepest first: creating entries in a directory changes its mtime.
  for (const d of [...dirs].sort().reverse()) {
    const to = target(d);
    fs.mkdirSync(to, { recursive: true });
    const st = fs.statSync(d);
    fs.chmodSync(to, st.mode & 0o7777);
    fs.utimesSync(to, st.atime, st.mtime);
    counts.dirs++;
  }
  const usr = fs.statSync('/usr');
  fs.utimesSync(dest, usr.atime, usr.mtime);
  counts.distinctContents = seen.size;
  counts.duplicateFiles = counts.files - seen.size;
  counts.fingerprint = fingerprint.digest('hex').slice(0, 16);
  return { ...counts, duplicateBytes };
}
