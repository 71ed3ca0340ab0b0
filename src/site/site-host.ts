import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statfsSync,
  statSync,
} from 'node:fs';
import path from 'node:path';

/**
 * What one command printed and how it ended: `missing` when it could not be started (not
 * installed), `unrecorded` when a captured node has no record of it (it was not run there).
 */
export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  missing?: boolean;
  unrecorded?: boolean;
}

/** Runs `argv` on the node (or answers it from a capture). */
export type CommandRunner = (argv: string[]) => CommandResult;

/** Mode and owner of a file, as `stat` gives them. */
export interface FileMode {
  mode: number;
  uid: number;
}

/**
 * A worker node as the probes see it: every read goes through `root` (so a captured node's files
 * stand in for /proc, /sys, /etc, /usr, /cvmfs), every command through `run`. Paths given to it
 * are the node's own absolute paths.
 */
export interface SiteHost {
  /** `/` for this machine, else the directory holding a captured node. */
  root: string;
  /** True for this machine: commands really run and may change nothing but their own processes. */
  live: boolean;
  env: Record<string, string | undefined>;
  uid: number;
  read(p: string): string | undefined;
  exists(p: string): boolean;
  list(p: string): string[];
  stat(p: string): FileMode | undefined;
  /** Free and total bytes of the file system holding `p`; undefined for a capture without it. */
  statfs(p: string): { total: number; free: number } | undefined;
  /** The target of symlinks in `p` on a live node; a captured path as it stands. */
  realpath(p: string): string;
  run: CommandRunner;
}

/** The first executable `name` in the node's PATH (a node path), or undefined. */
export function which(host: SiteHost, name: string): string | undefined {
  for (const dir of (host.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!dir.startsWith('/')) continue; // a relative PATH entry would depend on barge's cwd
    const p = path.posix.join(dir, name);
    if (isExecutable(host, p)) return p;
  }
  return undefined;
}

/** True when `p` is a regular file with an execute bit. */
export function isExecutable(host: SiteHost, p: string): boolean {
  const m = host.stat(p);
  return m !== undefined && (m.mode & 0o170000) === 0o100000 && (m.mode & 0o111) !== 0;
}

function spawnRunner(argv: string[]): CommandResult {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'EACCES') return { status: null, stdout: '', stderr: '', missing: true };
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

function filesUnder(root: string): Omit<SiteHost, 'root' | 'live' | 'env' | 'uid' | 'run' | 'statfs'> {
  const at = (p: string) => (root === '/' ? p : path.join(root, p));
  return {
    read: (p) => {
      try {
        return readFileSync(at(p), 'utf8');
      } catch {
        return undefined;
      }
    },
    exists: (p) => existsSync(at(p)),
    list: (p) => {
      try {
        return readdirSync(at(p)).sort();
      } catch {
        return [];
      }
    },
    stat: (p) => {
      try {
        const s = statSync(at(p));
        return { mode: s.mode, uid: s.uid };
      } catch {
        return undefined;
      }
    },
    realpath: (p) => {
      if (root !== '/') return p;
      try {
        return realpathSync(p);
      } catch {
        return p;
      }
    },
  };
}

/** This machine, as it is now. */
export function liveHost(env: Record<string, string | undefined> = process.env): SiteHost {
  return {
    root: '/',
    live: true,
    env,
    uid: process.getuid?.() ?? -1,
    ...filesUnder('/'),
    statfs: (p) => {
      try {
        const s = statfsSync(p);
        return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
      } catch {
        return undefined;
      }
    },
    run: spawnRunner,
  };
}

/**
 * What a captured node records beyond its files (`capture.json` at the top of its directory):
 * the environment and uid the check ran with, modes git cannot carry (setuid, root owner), file
 * system sizes, and what each command printed. A command not recorded was not run there.
 */
export interface Capture {
  description?: string;
  uid?: number;
  env?: Record<string, string>;
  /** Node path -> `{ mode: "104755", uid: 0 }`: type and permission bits in octal, owner uid. */
  stat?: Record<string, { mode: string; uid: number }>;
  statfs?: Record<string, { total: number; free: number }>;
  /** The argv joined by spaces -> what it printed and its exit status. */
  commands?: Record<string, { status: number; stdout?: string; stderr?: string }>;
}

/** A node captured into `root` (its /proc, /sys, /etc... as files, and its capture.json). */
export function capturedHost(root: string): SiteHost {
  const abs = path.resolve(root);
  accessSync(abs, constants.R_OK);
  let capture: Capture = {};
  const file = path.join(abs, 'capture.json');
  if (existsSync(file)) capture = JSON.parse(readFileSync(file, 'utf8')) as Capture;
  const files = filesUnder(abs);
  return {
    root: abs,
    live: false,
    env: capture.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' },
    uid: capture.uid ?? 1000,
    ...files,
    stat: (p) => {
      const fixed = capture.stat?.[p];
      if (fixed) return { mode: Number.parseInt(fixed.mode, 8), uid: fixed.uid };
      // A symlink in a capture would point into the capturing machine, never follow it out.
      try {
        if (lstatSync(path.join(abs, p)).isSymbolicLink()) return undefined;
      } catch {
        return undefined;
      }
      return files.stat(p);
    },
    statfs: (p) => capture.statfs?.[p],
    run: (argv) => {
      const rec = capture.commands?.[argv.join(' ')];
      if (!rec) return { status: null, stdout: '', stderr: '', unrecorded: true };
      return { status: rec.status, stdout: rec.stdout ?? '', stderr: rec.stderr ?? '' };
    },
  };
}
