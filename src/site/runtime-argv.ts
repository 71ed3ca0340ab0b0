import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { RuntimeChoice } from './runtime-choice.js';

/** PATH inside a bubblewrap container: the host's PATH names host directories. */
const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Top-level names that get fresh mounts instead of the image's own. */
const FRESH = new Set(['proc', 'dev', 'tmp']);

/**
 * bubblewrap arguments that lay the image out by underlay, as Apptainer does without overlay:
 * a tmpfs root holding a read-only bind of each top-level entry of the image (symlinks copied),
 * fresh /proc, /dev and /tmp, and `cvmfs` bound in when given. Works without overlayfs and
 * without a /cvmfs directory in the image.
 */
export function bwrapArgs(image: string, cvmfs: string | undefined): string[] {
  const args: string[] = [];
  for (const e of readdirSync(image, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const inside = `/${e.name}`;
    if (FRESH.has(e.name) || (cvmfs && inside === cvmfs)) continue;
    const outside = path.join(image, e.name);
    if (e.isSymbolicLink()) args.push('--symlink', readlinkSync(outside), inside);
    else if (e.isDirectory() || e.isFile()) args.push('--ro-bind', outside, inside);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  if (cvmfs) args.push('--ro-bind', cvmfs, cvmfs);
  // Own PID and IPC namespaces (as pilots run Apptainer with --pid --ipc); bwrap is then the
  // container's init and exits with the command's status. --die-with-parent: no orphans. Jobs
  // need no capabilities, and run by root bwrap would keep them all.
  args.push('--unshare-pid', '--unshare-ipc', '--die-with-parent', '--cap-drop', 'ALL');
  args.push('--chdir', '/', '--setenv', 'PATH', CONTAINER_PATH);
  return args;
}

/**
 * The full command line for `command` in `image` with the chosen runtime. Apptainer runs as
 * pilots run it: `exec --contain --ipc --pid`, /cvmfs bound in.
 */
export function runtimeArgv(
  choice: RuntimeChoice,
  image: string,
  command: string[],
  cvmfs: string | undefined,
): string[] {
  if (choice.name === 'bwrap') return [choice.binary, ...bwrapArgs(image, cvmfs), '--', ...command];
  const args = [choice.binary, 'exec', '--contain', '--ipc', '--pid'];
  if (choice.name === 'apptainer-userns') args.push('--userns');
  if (cvmfs) args.push('--bind', cvmfs);
  return [...args, image, ...command];
}
