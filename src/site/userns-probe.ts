import { type Finding, finding, sysctlFix } from './finding.js';
import type { NodeIdentity } from './node-identity.js';
import { type SiteHost, which } from './site-host.js';

/** The first EL7 kernel build of 7.6 (3.10.0-957): from it on the boot option is not needed. */
const EL7_6_BUILD = 957;
/** The uid an unprivileged attempt runs as when barge itself runs as root. */
const NOBODY = 65534;

/** What the user namespace checks concluded, with their findings. */
export interface UsernsResult {
  findings: Finding[];
  /** True when an unprivileged user may create a user namespace here. */
  usable: boolean;
  /** How the actual attempt went. */
  attempt: 'created' | 'refused' | 'not-tried';
}

/** Reads an integer sysctl from /proc/sys; undefined when the kernel has no such file. */
function sysctl(host: SiteHost, name: string): number | undefined {
  const text = host.read(`/proc/sys/${name.replaceAll('.', '/')}`);
  if (text === undefined) return undefined;
  const n = Number.parseInt(text.trim(), 10);
  return Number.isNaN(n) ? undefined : n;
}

/**
 * Actually creates a user namespace, mapping the caller to root in it as Apptainer does, with
 * util-linux `unshare`. Run as root, it drops to nobody first: root may create one where users
 * cannot (Debian's clone sysctl does not apply to root).
 */
export function attemptUserNamespace(host: SiteHost): { result: UsernsResult['attempt']; seen: string } {
  let argv = ['unshare', '--user', '--map-root-user', 'true'];
  let as = `uid ${host.uid}`;
  if (host.uid === 0) {
    const setpriv = which(host, 'setpriv');
    if (setpriv) {
      argv = [setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv];
      as = `nobody (uid ${NOBODY}, dropped from root with setpriv)`;
    } else as = 'root (no setpriv to drop to nobody: root may succeed where users fail)';
  }
  const r = host.run(argv);
  if (r.unrecorded) return { result: 'not-tried', seen: 'not recorded on the captured node' };
  if (r.missing) return { result: 'not-tried', seen: 'not tried: unshare (util-linux) is not installed' };
  if (r.status === 0)
    return { result: 'created', seen: `created one as ${as} (unshare --user --map-root-user)` };
  const why = r.stderr.trim().split('\n').pop() || `exit status ${r.status}`;
  return { result: 'refused', seen: `refused as ${as}: ${why}` };
}

/** The sysctls and boot options that gate unprivileged user namespaces, and an actual attempt. */
export function probeUserNamespaces(host: SiteHost, id: NodeIdentity): UsernsResult {
  const findings: Finding[] = [];
  let allowed = true;

  const max = sysctl(host, 'user.max_user_namespaces');
  if (max === undefined || max === 0) allowed = false;
  findings.push(
    finding(
      'userns.max-user-namespaces',
      max !== undefined && max > 0 ? 'ok' : 'fail',
      max === undefined
        ? 'no /proc/sys/user/max_user_namespaces: the kernel has no user namespaces (older than 4.9, EL7 before 7.4, or built without CONFIG_USER_NS)'
        : `user.max_user_namespaces = ${max}`,
      'Apptainer from CVMFS runs unprivileged only in a user namespace; 0 forbids creating any (EL7 ships 0)',
      max === undefined
        ? 'run a kernel with user namespaces (EL 7.6 or later, EL8, EL9)'
        : sysctlFix('user.max_user_namespaces', 15000, '90-max_user_namespaces.conf'),
    ),
  );

  if (id.el7KernelBuild !== undefined && id.el7KernelBuild < EL7_6_BUILD) {
    const cmdline = host.read('/proc/cmdline') ?? '';
    const on = /(^|\s)namespace\.unpriv_enable=1(\s|$)/.test(cmdline);
    if (!on) allowed = false;
    findings.push(
      finding(
        'userns.el7-boot-option',
        on ? 'ok' : 'fail',
        `EL7 kernel ${id.kernel} (before the 7.6 kernel, 3.10.0-957): ` +
          (on
            ? 'namespace.unpriv_enable=1 on the kernel command line'
            : 'no namespace.unpriv_enable=1 in /proc/cmdline'),
        'EL7 kernels before 7.6 refuse unprivileged user namespaces unless booted with namespace.unpriv_enable=1',
        'update to the EL 7.6 or later kernel (yum update kernel), or: grubby --update-kernel=ALL --args=namespace.unpriv_enable=1 and reboot',
      ),
    );
  } else
    findings.push(
      finding('userns.el7-boot-option', 'na', 'not an EL7 kernel before 7.6', 'EL7 before 7.6 only'),
    );

  const clone = sysctl(host, 'kernel.unprivileged_userns_clone');
  if (clone === 0) allowed = false;
  findings.push(
    finding(
      'userns.unprivileged-userns-clone',
      clone === undefined ? 'na' : clone === 0 ? 'fail' : 'ok',
      clone === undefined
        ? 'no kernel.unprivileged_userns_clone (not a Debian-patched kernel)'
        : `kernel.unprivileged_userns_clone = ${clone}`,
      "Debian's kernels (0 by default before Debian 11) let only root create user namespaces when it is 0",
      sysctlFix('kernel.unprivileged_userns_clone', 1, '90-unprivileged_userns_clone.conf'),
    ),
  );

  const apparmor = sysctl(host, 'kernel.apparmor_restrict_unprivileged_userns');
  if (apparmor === 1) allowed = false;
  findings.push(
    finding(
      'userns.apparmor',
      apparmor === undefined ? 'na' : apparmor === 1 ? 'fail' : 'ok',
      apparmor === undefined
        ? 'no kernel.apparmor_restrict_unprivileged_userns'
        : `kernel.apparmor_restrict_unprivileged_userns = ${apparmor}`,
      'with 1 (Ubuntu 24.04) a user namespace has no capabilities unless an AppArmor profile allows it: Apptainer from CVMFS has none',
      `${sysctlFix('kernel.apparmor_restrict_unprivileged_userns', 0, '90-apparmor-userns.conf')} (or an AppArmor profile with "userns," for the Apptainer binaries)`,
    ),
  );

  const attempt = attemptUserNamespace(host);
  findings.push(
    finding(
      'userns.create',
      attempt.result === 'created' ? 'ok' : attempt.result === 'refused' ? 'fail' : allowed ? 'warn' : 'na',
      attempt.seen,
      'the sysctls say what should work; creating one shows what does (seccomp, SELinux or a container around the node may refuse)',
      attempt.result === 'refused'
        ? 'see the sysctl findings above; inside Docker add --security-opt seccomp=unconfined'
        : host.live
          ? 'install util-linux (unshare)'
          : 'run barge site check on the node itself',
    ),
  );
  const usable = allowed && attempt.result !== 'refused';

  const net = sysctl(host, 'user.max_net_namespaces');
  findings.push(
    finding(
      'userns.max-net-namespaces',
      !usable || net === undefined ? 'na' : net === 0 ? 'ok' : 'warn',
      net === undefined ? 'no /proc/sys/user/max_net_namespaces' : `user.max_net_namespaces = ${net}`,
      'jobs need no network namespaces, and most user namespace kernel exploits of recent years went through them: 0 lowers the risk of enabling user namespaces (breaks Docker/Podman networking and systemd PrivateNetwork)',
      sysctlFix('user.max_net_namespaces', 0, '90-max_net_namespaces.conf'),
    ),
  );
  return { findings, usable, attempt: attempt.result };
}
