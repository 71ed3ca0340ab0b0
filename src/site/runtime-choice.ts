import type { ApptainerFacts } from './apptainer-probe.js';
import { isExecutable, type SiteHost, which } from './site-host.js';

/** The runtimes `barge site run` knows, in the baseline's order of preference. */
export type RuntimeName = 'apptainer-cvmfs' | 'apptainer-userns' | 'apptainer-setuid' | 'bwrap';

/** `auto` follows the baseline; the others insist on one family (and fail if it cannot run here). */
export type RuntimePreference = 'auto' | 'apptainer' | 'bwrap';

/** The runtime picked for a node, and why the ones before it were passed over. */
export interface RuntimeChoice {
  name: RuntimeName;
  binary: string;
  why: string;
  passedOver: string[];
}

/** What the choice depends on. */
export interface RuntimeFacts {
  usernsUsable: boolean;
  apptainer: ApptainerFacts;
}

/** bubblewrap on the node, and whether it can run here (user namespaces, root, or a setuid bwrap). */
export function findBwrap(
  host: SiteHost,
  usernsUsable: boolean,
): { path?: string; usable: boolean; how: string } {
  const p = which(host, 'bwrap');
  if (!p || !isExecutable(host, p)) return { usable: false, how: 'bubblewrap (bwrap) not in PATH' };
  const st = host.stat(p);
  const setuid = st !== undefined && st.uid === 0 && (st.mode & 0o4000) !== 0;
  if (host.uid === 0) return { path: p, usable: true, how: 'as root (no user namespace needed)' };
  if (usernsUsable) return { path: p, usable: true, how: 'in an unprivileged user namespace' };
  if (setuid) return { path: p, usable: true, how: 'setuid root' };
  return { path: p, usable: false, how: `${p} needs user namespaces (or setuid root), and there are none` };
}

/**
 * Picks the runtime as the baseline prefers it: Apptainer from CVMFS in user-namespace mode,
 * else the local Apptainer (its unprivileged mode where user namespaces work, else setuid with
 * underlay or overlay), else bubblewrap. Undefined `choice` when nothing can run here.
 */
export function chooseRuntime(
  facts: RuntimeFacts,
  bwrap: ReturnType<typeof findBwrap>,
  prefer: RuntimePreference = 'auto',
): { choice?: RuntimeChoice; passedOver: string[] } {
  const passed: string[] = [];
  const { cvmfs, local } = facts.apptainer;
  const pick = (name: RuntimeName, binary: string, why: string) => ({
    choice: { name, binary, why, passedOver: passed },
    passedOver: passed,
  });
  if (prefer !== 'bwrap') {
    if (!facts.usernsUsable) passed.push('apptainer-cvmfs: no unprivileged user namespaces');
    else if (!cvmfs) passed.push('apptainer-cvmfs: no Apptainer on CVMFS (oasis.opensciencegrid.org)');
    else
      return pick(
        'apptainer-cvmfs',
        cvmfs.path,
        `unprivileged user namespaces work and ${cvmfs.kind} ${cvmfs.version ?? ''} is on CVMFS: the baseline's first choice`,
      );
    if (!local) passed.push('local apptainer: none installed');
    else if (facts.usernsUsable)
      return pick(
        'apptainer-userns',
        local.path,
        `unprivileged user namespaces work; the local ${local.kind} at ${local.path} in its unprivileged mode (--userns), as the baseline prefers`,
      );
    else if (!local.setuidUsable)
      passed.push(
        `apptainer-setuid: ${local.path} is not usable in setuid mode (${local.setuidInstalled ? 'allow setuid = no, or underlay and overlay off' : 'no setuid starter'})`,
      );
    else
      return pick(
        'apptainer-setuid',
        local.path,
        `no unprivileged user namespaces; the local ${local.kind} at ${local.path} is setuid with underlay/overlay`,
      );
  }
  if (prefer !== 'apptainer') {
    if (bwrap.usable && bwrap.path) {
      const why = passed.length ? 'no usable Apptainer' : 'bubblewrap requested';
      return pick('bwrap', bwrap.path, `${why}; bubblewrap at ${bwrap.path} runs ${bwrap.how}`);
    }
    passed.push(`bwrap: ${bwrap.how}`);
  }
  return { passedOver: passed };
}
