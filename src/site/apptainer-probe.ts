import path from 'node:path';
import {
  type ContainerModes,
  canAddBindPoints,
  containerModes,
  parseApptainerConf,
} from './apptainer-config.js';
import { type Finding, finding } from './finding.js';
import { isExecutable, type SiteHost, which } from './site-host.js';

/** One Apptainer or Singularity binary, and where the pilot-style search found it. */
export interface ApptainerBinary {
  path: string;
  kind: 'apptainer' | 'singularity';
  source: 'GLIDEIN_SINGULARITY_BINARY_OVERRIDE' | 'OSG_SINGULARITY_BINARY' | 'PATH' | 'CVMFS';
  version: string | undefined;
  onCvmfs: boolean;
}

/** A local (not CVMFS) install: its config file and whether its setuid starter is usable. */
export interface LocalInstall extends ApptainerBinary {
  confPath: string;
  confFound: boolean;
  modes: ContainerModes;
  starterSuid: string;
  /** starter-suid exists, is owned by root and has the setuid bit. */
  setuidInstalled: boolean;
  /** setuid installed, `allow setuid = yes`, and underlay or overlay on: the baseline's second case. */
  setuidUsable: boolean;
}

/** What the search found: the CVMFS copy and the first local install, each if any. */
export interface ApptainerFacts {
  all: ApptainerBinary[];
  cvmfs: ApptainerBinary | undefined;
  local: LocalInstall | undefined;
}

/** Where OSG's OASIS repository keeps Apptainer (a wrapper that picks the architecture). */
export const OASIS_APPTAINER = ['mis/apptainer/bin/apptainer', 'mis/apptainer/current/bin/apptainer'];

function kindOf(p: string): 'apptainer' | 'singularity' {
  return path.posix.basename(p).startsWith('singularity') ? 'singularity' : 'apptainer';
}

function version(host: SiteHost, p: string): string | undefined {
  const r = host.run([p, '--version']);
  if (r.status !== 0) return undefined;
  return /version\s+(\S+)/.exec(r.stdout)?.[1] ?? (r.stdout.trim() || undefined);
}

/**
 * Finds Apptainer the way glideinWMS pilots do: the site's override (a binary, or a directory
 * holding one), OSG_SINGULARITY_BINARY, `apptainer` then `singularity` in PATH, then OSG's copy
 * on CVMFS (under $CVMFS_MOUNT_DIR, default /cvmfs).
 */
export function findApptainer(host: SiteHost): ApptainerFacts {
  const cvmfsDir = host.env.CVMFS_MOUNT_DIR || '/cvmfs';
  const seen = new Set<string>();
  const all: ApptainerBinary[] = [];
  const add = (p: string | undefined, source: ApptainerBinary['source']) => {
    if (!p || seen.has(p) || !isExecutable(host, p)) return;
    seen.add(p);
    const onCvmfs = host.realpath(p).startsWith(`${cvmfsDir}/`);
    all.push({ path: p, kind: kindOf(p), source, version: version(host, p), onCvmfs });
  };
  const override = host.env.GLIDEIN_SINGULARITY_BINARY_OVERRIDE;
  if (override) {
    if (isExecutable(host, override)) add(override, 'GLIDEIN_SINGULARITY_BINARY_OVERRIDE');
    else
      for (const n of ['apptainer', 'singularity'])
        add(path.posix.join(override, n), 'GLIDEIN_SINGULARITY_BINARY_OVERRIDE');
  }
  add(host.env.OSG_SINGULARITY_BINARY, 'OSG_SINGULARITY_BINARY');
  add(which(host, 'apptainer'), 'PATH');
  add(which(host, 'singularity'), 'PATH');
  for (const rel of OASIS_APPTAINER) add(`${cvmfsDir}/oasis.opensciencegrid.org/${rel}`, 'CVMFS');
  const cvmfs = all.find((b) => b.onCvmfs);
  const first = all.find((b) => !b.onCvmfs);
  return { all, cvmfs, local: first && describeInstall(host, first) };
}

/** The config file and setuid starter of a local install, found from its prefix. */
function describeInstall(host: SiteHost, bin: ApptainerBinary): LocalInstall {
  // <prefix>/bin/apptainer; a /usr install keeps its config in /etc, any other in <prefix>/etc.
  const prefix = path.posix.dirname(path.posix.dirname(host.realpath(bin.path)));
  const etc = prefix === '/usr' ? '/etc' : `${prefix}/etc`;
  const confPath = `${etc}/${bin.kind}/${bin.kind}.conf`;
  const text = host.read(confPath);
  const modes = containerModes(parseApptainerConf(text ?? ''), bin.kind);
  const starterSuid = `${prefix}/libexec/${bin.kind}/bin/starter-suid`;
  const st = host.stat(starterSuid);
  const setuidInstalled = st !== undefined && st.uid === 0 && (st.mode & 0o4000) !== 0;
  return {
    ...bin,
    confPath,
    confFound: text !== undefined,
    modes,
    starterSuid,
    setuidInstalled,
    setuidUsable: setuidInstalled && modes.allowSetuid && canAddBindPoints(modes),
  };
}

function describe(b: ApptainerBinary): string {
  return `${b.kind} ${b.version ?? '(version unknown)'} at ${b.path} (${b.source})`;
}

/** The Apptainer findings: the CVMFS copy, the local install, its setuid mode and underlay. */
export function apptainerFindings(
  facts: ApptainerFacts,
  usernsUsable: boolean,
  cvmfsDir = '/cvmfs',
): Finding[] {
  const out: Finding[] = [];
  const { cvmfs, local } = facts;
  out.push(
    finding(
      'apptainer.cvmfs',
      cvmfs ? (usernsUsable ? 'ok' : 'na') : usernsUsable ? 'warn' : 'na',
      cvmfs ? describe(cvmfs) : `no Apptainer at ${cvmfsDir}/oasis.opensciencegrid.org/${OASIS_APPTAINER[0]}`,
      usernsUsable
        ? 'with user namespaces, experiments run Apptainer straight from CVMFS: no local install to keep'
        : 'Apptainer from CVMFS is not setuid and needs unprivileged user namespaces',
      'mount oasis.opensciencegrid.org (add it to CVMFS_REPOSITORIES in /etc/cvmfs/default.local)',
    ),
  );
  if (!local) {
    out.push(
      finding(
        'apptainer.local',
        'na',
        'no local Apptainer or Singularity (override variables, PATH)',
        usernsUsable
          ? 'not needed: Apptainer from CVMFS runs here'
          : 'a node without user namespaces needs a local setuid install',
      ),
    );
    out.push(
      finding(
        'apptainer.setuid',
        usernsUsable ? 'na' : 'fail',
        'no local install',
        'setuid mode is the only way without user namespaces',
        'dnf install apptainer apptainer-suid (or enable unprivileged user namespaces, preferred)',
      ),
    );
    out.push(
      finding('apptainer.underlay', 'na', 'no local install', 'underlay/overlay matter for setuid mode'),
    );
    return out;
  }
  const conf = local.confFound ? local.confPath : `${local.confPath} (absent: defaults)`;
  out.push(
    finding(
      'apptainer.local',
      'ok',
      `${describe(local)}, config ${conf}`,
      'a site install, used when CVMFS is not',
    ),
  );
  const starter = `${local.starterSuid} ${local.setuidInstalled ? 'is setuid root' : 'is not installed setuid root'}`;
  const allow = `allow setuid = ${local.modes.allowSetuid ? 'yes' : 'no'}`;
  if (usernsUsable) {
    const setuidOn = local.setuidInstalled && local.modes.allowSetuid;
    out.push(
      finding(
        'apptainer.setuid',
        setuidOn ? 'warn' : 'ok',
        `${starter}; ${allow}${setuidOn ? ': runs in setuid mode by default' : ': runs in user-namespace mode'}`,
        'the baseline prefers the unprivileged mode of a local install where user namespaces work (a setuid-root program is a larger attack surface)',
        `set "allow setuid = no" in ${local.confPath} (or remove the apptainer-suid package)`,
      ),
    );
    out.push(
      finding('apptainer.underlay', 'na', 'user-namespace mode', 'underlay/overlay matter for setuid mode'),
    );
    return out;
  }
  const setuidOn = local.setuidInstalled && local.modes.allowSetuid;
  out.push(
    finding(
      'apptainer.setuid',
      setuidOn ? 'ok' : 'fail',
      `${starter}; ${allow}`,
      'without user namespaces Apptainer runs only in setuid mode',
      local.setuidInstalled
        ? `set "allow setuid = yes" in ${local.confPath}`
        : `install the setuid part (${local.kind === 'apptainer' ? 'dnf install apptainer-suid' : 'a setuid Singularity build'}), or enable unprivileged user namespaces (preferred)`,
    ),
  );
  const binds = canAddBindPoints(local.modes);
  out.push(
    finding(
      'apptainer.underlay',
      binds ? 'ok' : 'fail',
      `enable underlay = ${local.modes.underlay}, enable overlay = ${local.modes.overlay} (${conf})`,
      'images on CVMFS are read-only directories: setuid mode adds bind points (/cvmfs, the job directory) missing from them by underlay or overlay',
      `set "enable underlay = yes" in ${local.confPath}`,
    ),
  );
  return out;
}
