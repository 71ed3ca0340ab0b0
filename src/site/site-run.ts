import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { BargeError } from '../error/index.js';
import { findApptainer } from './apptainer-probe.js';
import { type ContainerMode, modeFromUidMap } from './container-mode.js';
import { readIdentity } from './node-identity.js';
import { runtimeArgv } from './runtime-argv.js';
import { chooseRuntime, findBwrap, type RuntimeName, type RuntimePreference } from './runtime-choice.js';
import { liveHost, type SiteHost } from './site-host.js';
import { probeUserNamespaces } from './userns-probe.js';

/** What `barge site run` chose and saw, reported before the command runs. */
export interface RunReport {
  runtime: RuntimeName;
  binary: string;
  why: string;
  passedOver: string[];
  /** The container's mode, from its /proc/self/uid_map (unknown if the image has no `cat`). */
  mode: ContainerMode;
  uidMap: string | null;
  cvmfsBound: string | null;
  argv: string[];
}

export interface SiteRunOptions {
  image: string;
  /** The command and its arguments; `/bin/sh` when empty. */
  command: string[];
  prefer?: RuntimePreference;
  host?: SiteHost;
  /** Called once the runtime is chosen and its mode known, before the command starts. */
  onReport?: (report: RunReport) => void;
  /** Choose and report only. */
  dryRun?: boolean;
}

function checkImage(image: string): string {
  const abs = path.resolve(image);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new BargeError('IMAGE_NOT_FOUND', `no image directory at ${abs}`, {
      hint: 'give an unpacked image: a directory made by barge pull, or /cvmfs/<repo>/<registry>/<image>:<tag>',
    });
  }
  if (!isDir || !['bin', 'usr/bin'].some((d) => existsSync(path.join(abs, d)))) {
    throw new BargeError('IMAGE_INVALID', `${abs} is not an unpacked image root (no /bin, no /usr/bin)`, {
      hint: 'give the root of the image, the directory that holds its bin/, etc/ and usr/',
    });
  }
  return abs;
}

/** Chooses the runtime for this node (without running anything in the image). */
export function chooseForNode(host: SiteHost, prefer: RuntimePreference) {
  const userns = probeUserNamespaces(host, readIdentity(host));
  const apptainer = findApptainer(host);
  return chooseRuntime({ usernsUsable: userns.usable, apptainer }, findBwrap(host, userns.usable), prefer);
}

/**
 * Runs a command in an unpacked image with the runtime the baseline prefers on this node and
 * returns its exit status (128 + signal number if a signal ended it).
 */
export async function siteRun(opts: SiteRunOptions): Promise<number> {
  const image = checkImage(opts.image);
  const host = opts.host ?? liveHost();
  const { choice, passedOver } = chooseForNode(host, opts.prefer ?? 'auto');
  if (!choice) {
    throw new BargeError('RUNTIME_NOT_FOUND', `no container runtime can run here: ${passedOver.join('; ')}`, {
      hint: 'enable unprivileged user namespaces (user.max_user_namespaces > 0), or install bubblewrap or a setuid Apptainer; barge site check says which',
    });
  }
  const cvmfsDir = host.env.CVMFS_MOUNT_DIR || '/cvmfs';
  const cvmfs = existsSync(cvmfsDir) ? cvmfsDir : undefined;
  const command = opts.command.length > 0 ? opts.command : ['/bin/sh'];
  // The mode as pilots tell it: a first start that prints the container's own uid_map.
  const [bin, ...probeArgs] = runtimeArgv(choice, image, ['cat', '/proc/self/uid_map'], cvmfs);
  const probe = spawnSync(bin as string, probeArgs, { encoding: 'utf8', timeout: 120_000 });
  const uidMap =
    probe.status === 0 ? (probe.stdout.split('\n')[0]?.trim().replace(/\s+/g, ' ') ?? null) : null;
  const argv = runtimeArgv(choice, image, command, cvmfs);
  opts.onReport?.({
    runtime: choice.name,
    binary: choice.binary,
    why: choice.why,
    passedOver: choice.passedOver,
    mode: uidMap ? modeFromUidMap(uidMap) : 'unknown',
    uidMap,
    cvmfsBound: cvmfs ?? null,
    argv,
  });
  if (opts.dryRun) return 0;
  return runInherited(argv);
}

/** Runs argv on this terminal; signals sent to barge go on to the runtime. */
function runInherited(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'inherit' });
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const s of signals) process.on(s, forward);
    const done = () => {
      for (const s of signals) process.off(s, forward);
    };
    child.on('error', (err) => {
      done();
      reject(new BargeError('RUNTIME_FAILED', `could not start ${argv[0]}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
