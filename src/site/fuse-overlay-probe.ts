import { type Finding, finding } from './finding.js';
import { kernelAtLeast, type NodeIdentity } from './node-identity.js';
import { type SiteHost, which } from './site-host.js';

/**
 * Unprivileged mounts: overlayfs in a user namespace (kernel 5.11 and later), else
 * fuse-overlayfs, and FUSE itself (/dev/fuse, fusermount3), which squashfuse, fuse-overlayfs
 * and cvmfsexec need without root.
 */
export function probeFuseOverlay(host: SiteHost, id: NodeIdentity, usernsUsable: boolean): Finding[] {
  const out: Finding[] = [];
  const fuseOverlay = which(host, 'fuse-overlayfs');
  const kernelOverlay = kernelAtLeast(id, 5, 11);
  out.push(
    finding(
      'overlay.unprivileged',
      !usernsUsable ? 'na' : kernelOverlay || fuseOverlay ? 'ok' : 'warn',
      !usernsUsable
        ? 'no unprivileged user namespaces, so no unprivileged mounts'
        : kernelOverlay
          ? `kernel ${id.kernelVersion?.join('.')} mounts overlayfs in a user namespace (5.11 or later)`
          : fuseOverlay
            ? `kernel ${id.kernelVersion?.join('.') ?? '?'} is older than 5.11; fuse-overlayfs at ${fuseOverlay}`
            : `kernel ${id.kernelVersion?.join('.') ?? '?'} is older than 5.11 and there is no fuse-overlayfs`,
      'Apptainer in user-namespace mode needs overlay for bind points missing from the image and for --overlay/--writable-tmpfs; without it, it falls back to underlay',
      'install fuse-overlayfs (dnf install fuse-overlayfs / apt-get install fuse-overlayfs), or run a 5.11 or later kernel (EL9)',
    ),
  );
  const dev = host.exists('/dev/fuse');
  out.push(
    finding(
      'fuse.device',
      dev ? 'ok' : 'warn',
      dev ? '/dev/fuse present' : 'no /dev/fuse',
      'unprivileged FUSE (squashfuse for SIF images, fuse-overlayfs, cvmfsexec) opens /dev/fuse',
      'modprobe fuse (and echo fuse > /etc/modules-load.d/fuse.conf); in a container, pass --device /dev/fuse',
    ),
  );
  const fusermount = which(host, 'fusermount3');
  out.push(
    finding(
      'fuse.fusermount3',
      fusermount ? 'ok' : 'warn',
      fusermount ? `fusermount3 at ${fusermount}` : 'no fusermount3 in PATH',
      'an unprivileged FUSE mount outside a user namespace goes through the setuid fusermount3 helper',
      'dnf install fuse3 / apt-get install fuse3',
    ),
  );
  return out;
}
