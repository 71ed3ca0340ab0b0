/**
 * How a container runs, told by its `/proc/self/uid_map` as glideinWMS pilots tell it: the first
 * line is `inside outside count`. An inside id other than 0 is an unprivileged user namespace;
 * `0 0 4294967295` is the initial namespace, so no user namespace at all (setuid mode, or root);
 * inside 0 mapped to another outside id is fakeroot.
 */
export type ContainerMode = 'unprivileged' | 'fakeroot' | 'privileged' | 'unknown';

/** The mode a uid_map's text shows. */
export function modeFromUidMap(text: string): ContainerMode {
  const first = text.split('\n').find((l) => l.trim() !== '');
  const f = first?.trim().split(/\s+/);
  if (f?.length !== 3 || !f.every((n) => /^\d+$/.test(n))) return 'unknown';
  if (f[0] !== '0') return 'unprivileged';
  return f[1] === '0' ? 'privileged' : 'fakeroot';
}
