import { type Finding, finding } from './finding.js';
import type { SiteHost } from './site-host.js';

/** Kernel and distribution of a node, read once and shared by the checks that depend on them. */
export interface NodeIdentity {
  /** `uname -r`, e.g. `3.10.0-1160.el7.x86_64`; undefined when unreadable. */
  kernel: string | undefined;
  /** [major, minor] of the kernel release. */
  kernelVersion: [number, number] | undefined;
  /** os-release ID (`rhel`, `centos`, `almalinux`, `debian`...). */
  distro: string | undefined;
  /** os-release ID_LIKE and ID together, to tell the EL family. */
  family: string[];
  /** os-release VERSION_ID (`7`, `8.9`, `12`). */
  versionId: string | undefined;
  prettyName: string | undefined;
  /** On an EL7 kernel, its build number: 957 and later is the 7.6 kernel. */
  el7KernelBuild: number | undefined;
}

/** KEY=value lines of an os-release or shell-style config file, quotes removed. */
export function parseShellAssignments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    let v = (m[2] as string).trim();
    if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out.set(m[1] as string, v);
  }
  return out;
}

/** Reads the kernel release and /etc/os-release (else /usr/lib/os-release) of the node. */
export function readIdentity(host: SiteHost): NodeIdentity {
  const kernel =
    host.read('/proc/sys/kernel/osrelease')?.trim() ||
    /^Linux version (\S+)/.exec(host.read('/proc/version') ?? '')?.[1];
  const v = /^(\d+)\.(\d+)/.exec(kernel ?? '');
  const os = parseShellAssignments(host.read('/etc/os-release') ?? host.read('/usr/lib/os-release') ?? '');
  const distro = os.get('ID');
  const family = [distro ?? '', ...(os.get('ID_LIKE') ?? '').split(/\s+/)].filter(Boolean);
  const el7 = /^3\.10\.0-(\d+)/.exec(kernel ?? '');
  return {
    kernel,
    kernelVersion: v ? [Number(v[1]), Number(v[2])] : undefined,
    distro,
    family,
    versionId: os.get('VERSION_ID'),
    prettyName: os.get('PRETTY_NAME'),
    el7KernelBuild: el7 && /\.el7/.test(kernel ?? '') ? Number(el7[1]) : undefined,
  };
}

/** True when the kernel is at least major.minor. */
export function kernelAtLeast(id: NodeIdentity, major: number, minor: number): boolean {
  const v = id.kernelVersion;
  return v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));
}

/** True for Red Hat Enterprise Linux and its rebuilds. */
export function isEnterpriseLinux(id: NodeIdentity): boolean {
  return id.family.some((f) => f === 'rhel' || f === 'centos' || f === 'fedora');
}

/** The kernel and distribution findings. */
export function identityFindings(id: NodeIdentity): Finding[] {
  const kernel = finding(
    'kernel',
    id.kernel ? 'ok' : 'warn',
    id.kernel
      ? `Linux ${id.kernel}`
      : 'kernel release unreadable (/proc/sys/kernel/osrelease, /proc/version)',
    'user namespaces, unprivileged overlay (5.11) and FUSE depend on the kernel, not the distribution',
    'check that /proc is mounted',
  );
  const name = id.prettyName ?? [id.distro, id.versionId].filter(Boolean).join(' ');
  const el7 = isEnterpriseLinux(id) && id.versionId?.split('.')[0] === '7';
  const distro = finding(
    'distribution',
    !name ? 'warn' : el7 ? 'warn' : 'ok',
    name || 'no /etc/os-release',
    el7
      ? 'EL7 is past its end of maintenance (June 2024): its 3.10 kernel gets no new namespace or overlay features'
      : 'the distribution decides the defaults of the user namespace sysctls',
    el7 ? 'move the node to EL9 (or EL8), where unprivileged user namespaces are on by default' : null,
  );
  return [kernel, distro];
}
