import { type Finding, finding } from './finding.js';
import { parseShellAssignments } from './node-identity.js';
import { type SiteHost, which } from './site-host.js';

/** The cache the OSG and WLCG recommend per node, in MB (CVMFS_QUOTA_LIMIT). */
const RECOMMENDED_QUOTA_MB = 20000;
/** CVMFS_QUOTA_LIMIT when no file sets it (default.conf). */
const DEFAULT_QUOTA_MB = 4000;
const MB = 1024 * 1024;

/** What the CVMFS checks concluded, with their findings. */
export interface CvmfsResult {
  findings: Finding[];
  /** Repositories can be reached under the mount directory (mounted now, or by autofs on access). */
  available: boolean;
  mounted: string[];
}

/** The client configuration in the order the client reads it: default.conf, default.d, default.local. */
export function readClientConfig(host: SiteHost): Map<string, string> {
  const files = [
    '/etc/cvmfs/default.conf',
    ...host
      .list('/etc/cvmfs/default.d')
      .filter((f) => f.endsWith('.conf'))
      .map((f) => `/etc/cvmfs/default.d/${f}`),
    '/etc/cvmfs/default.local',
  ];
  const out = new Map<string, string>();
  for (const f of files) for (const [k, v] of parseShellAssignments(host.read(f) ?? '')) out.set(k, v);
  return out;
}

/** Repositories mounted under `dir` (fuse mounts by cvmfs2) and whether autofs serves `dir`. */
export function cvmfsMounts(host: SiteHost, dir: string): { repos: string[]; autofs: boolean } {
  const repos: string[] = [];
  let autofs = false;
  for (const line of (host.read('/proc/mounts') ?? '').split('\n')) {
    const [source, target, type] = line.split(' ');
    if (target === dir && type === 'autofs') autofs = true;
    if (target?.startsWith(`${dir}/`) && (source === 'cvmfs2' || type === 'fuse.cvmfs2' || type === 'fuse')) {
      repos.push(target.slice(dir.length + 1));
    }
  }
  return { repos: repos.sort(), autofs };
}

/** The client, its mounts, its proxy and its cache. */
export function probeCvmfs(host: SiteHost): CvmfsResult {
  const dir = host.env.CVMFS_MOUNT_DIR || '/cvmfs';
  const out: Finding[] = [];
  const client = which(host, 'cvmfs2') ?? (host.stat('/usr/bin/cvmfs2') ? '/usr/bin/cvmfs2' : undefined);
  const { repos, autofs } = cvmfsMounts(host, dir);
  let version: string | undefined;
  if (client) {
    const r = host.run([client, '--version']);
    version = /CernVM-FS version (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1];
  }
  out.push(
    finding(
      'cvmfs.client',
      client || repos.length > 0 ? 'ok' : 'fail',
      client
        ? `cvmfs2 ${version ?? '(version unknown)'} at ${client}`
        : repos.length > 0
          ? `no cvmfs2 here, but ${dir} is mounted from elsewhere (a container host or cvmfsexec)`
          : 'no CVMFS client (cvmfs2)',
      'images and Apptainer itself come from CVMFS',
      'install the cvmfs and cvmfs-config packages, then cvmfs_config setup',
    ),
  );
  const available = repos.length > 0 || autofs;
  out.push(
    finding(
      'cvmfs.mounts',
      available ? 'ok' : 'fail',
      [
        autofs ? `autofs on ${dir} (repositories mount on access)` : '',
        repos.length > 0
          ? `mounted: ${repos.join(', ')}`
          : autofs
            ? 'none mounted yet'
            : `nothing mounted under ${dir}`,
      ]
        .filter(Boolean)
        .join('; '),
      'a job sees only the repositories mounted on its node',
      'cvmfs_config setup (autofs), and list the repositories jobs need in CVMFS_REPOSITORIES',
    ),
  );
  if (!client) {
    out.push(
      finding(
        'cvmfs.proxy',
        'na',
        'no local client to configure',
        'the client of the node fetches through the proxy',
      ),
    );
    out.push(
      finding('cvmfs.cache', 'na', 'no local client to configure', 'the client of the node keeps the cache'),
    );
    return { findings: out, available, mounted: repos };
  }
  const conf = readClientConfig(host);
  const proxy = conf.get('CVMFS_HTTP_PROXY') ?? '';
  const single = conf.get('CVMFS_CLIENT_PROFILE') === 'single';
  const direct = proxy !== '' && proxy.split(/[;|]/).every((p) => p.trim() === 'DIRECT');
  out.push(
    finding(
      'cvmfs.proxy',
      proxy === '' ? (single ? 'warn' : 'fail') : direct ? 'warn' : 'ok',
      proxy === ''
        ? single
          ? 'no CVMFS_HTTP_PROXY; CVMFS_CLIENT_PROFILE=single (DIRECT)'
          : 'no CVMFS_HTTP_PROXY in /etc/cvmfs/default.local (the client refuses to mount)'
        : `CVMFS_HTTP_PROXY=${proxy}`,
      'every node of a site should fetch through its squids: DIRECT loads the stratum 1 servers and is slow',
      `echo 'CVMFS_HTTP_PROXY="http://squid.your.site:3128"' >> /etc/cvmfs/default.local && cvmfs_config reload`,
    ),
  );
  const quota = Number(conf.get('CVMFS_QUOTA_LIMIT') ?? DEFAULT_QUOTA_MB);
  const base = conf.get('CVMFS_CACHE_BASE') || '/var/lib/cvmfs';
  const fs = host.statfs(base);
  const need = (quota + 1000) * 1.2 * MB; // the OSG sizing rule: 20 % above the quota and 1 GB
  const tooSmall = fs !== undefined && quota > 0 && fs.total < need;
  const seen =
    `CVMFS_QUOTA_LIMIT=${quota} MB, cache in ${base}` +
    (fs ? ` on a file system of ${Math.round(fs.total / MB)} MB, ${Math.round(fs.free / MB)} MB free` : '');
  out.push(
    finding(
      'cvmfs.cache',
      tooSmall ? 'fail' : quota < 0 || quota < RECOMMENDED_QUOTA_MB ? 'warn' : 'ok',
      seen,
      tooSmall
        ? 'a cache larger than its file system ends in I/O errors and crashed jobs'
        : 'images and experiment software share the cache: below 20 GB it thrashes; unlimited (-1) may fill the disk',
      tooSmall
        ? `give ${base} a file system of at least ${Math.ceil(need / MB)} MB, or lower CVMFS_QUOTA_LIMIT`
        : `echo 'CVMFS_QUOTA_LIMIT=${RECOMMENDED_QUOTA_MB}' >> /etc/cvmfs/default.local (with 20 % more free space under ${base})`,
    ),
  );
  return { findings: out, available, mounted: repos };
}
