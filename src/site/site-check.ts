import { apptainerFindings, findApptainer } from './apptainer-probe.js';
import { probeCvmfs } from './cvmfs-probe.js';
import type { Finding } from './finding.js';
import { probeFuseOverlay } from './fuse-overlay-probe.js';
import { identityFindings, readIdentity } from './node-identity.js';
import { chooseRuntime, findBwrap, type RuntimeName } from './runtime-choice.js';
import type { SiteHost } from './site-host.js';
import { probeUserNamespaces } from './userns-probe.js';

/** The baseline's cases: user namespaces; setuid Apptainer with underlay/overlay; neither. */
export type BaselineCase = 'userns' | 'setuid-underlay' | 'unsupported';

/** Which case the node is in, and whether images from CVMFS run on it with Apptainer. */
export interface Verdict {
  case: BaselineCase;
  cvmfsImages: boolean;
  /** What `barge site run` would use here (bubblewrap included), or null. */
  runtime: RuntimeName | null;
  summary: string;
}

/** The report of `barge site check`, as `--json` prints it (docs/site-check.schema.json). */
export interface SiteReport {
  format: 'barge-site-check/1';
  root: string;
  node: { kernel: string | null; distribution: string | null; uid: number };
  findings: Finding[];
  verdict: Verdict;
}

/** Checks one node against the WLCG container baseline. */
export function checkSite(host: SiteHost): SiteReport {
  const id = readIdentity(host);
  const userns = probeUserNamespaces(host, id);
  const apptainer = findApptainer(host);
  const cvmfs = probeCvmfs(host);
  const findings = [
    ...identityFindings(id),
    ...userns.findings,
    ...probeFuseOverlay(host, id, userns.usable),
    ...apptainerFindings(apptainer, userns.usable, host.env.CVMFS_MOUNT_DIR || '/cvmfs'),
    ...cvmfs.findings,
  ];
  const which: BaselineCase = userns.usable
    ? 'userns'
    : apptainer.local?.setuidUsable
      ? 'setuid-underlay'
      : 'unsupported';
  const withApptainer =
    which === 'userns'
      ? apptainer.cvmfs !== undefined || apptainer.local !== undefined
      : which === 'setuid-underlay';
  const cvmfsImages = cvmfs.available && withApptainer;
  const { choice } = chooseRuntime(
    { usernsUsable: userns.usable, apptainer },
    findBwrap(host, userns.usable),
  );
  return {
    format: 'barge-site-check/1',
    root: host.root,
    node: { kernel: id.kernel ?? null, distribution: id.prettyName ?? id.distro ?? null, uid: host.uid },
    findings,
    verdict: {
      case: which,
      cvmfsImages,
      runtime: choice?.name ?? null,
      summary: summarize(which, cvmfsImages, cvmfs.available),
    },
  };
}

function summarize(which: BaselineCase, cvmfsImages: boolean, cvmfsAvailable: boolean): string {
  const head = {
    userns: 'unprivileged user namespaces work: Apptainer can run unprivileged, straight from CVMFS',
    'setuid-underlay':
      'no unprivileged user namespaces, but the local Apptainer runs in setuid mode with underlay/overlay',
    unsupported:
      'neither unprivileged user namespaces nor a usable setuid Apptainer: containers cannot run as the baseline requires',
  }[which];
  const tail = cvmfsImages
    ? 'images from CVMFS will run'
    : cvmfsAvailable
      ? 'images from CVMFS will not run (no usable Apptainer)'
      : 'images from CVMFS will not run (CVMFS is not mounted)';
  return `${head}; ${tail}`;
}
