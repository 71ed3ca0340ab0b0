/** How one check came out: `na` when it does not apply to this node. */
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'na';

/**
 * One check of the node: what was seen, why it matters for running containers, and the exact
 * change that would fix it (a sysctl line, a config key), or null when there is nothing to do.
 */
export interface Finding {
  id: string;
  status: FindingStatus;
  seen: string;
  why: string;
  fix: string | null;
}

/** A finding; `fix` is dropped for ok and na, which need none. */
export function finding(
  id: string,
  status: FindingStatus,
  seen: string,
  why: string,
  fix: string | null = null,
): Finding {
  return { id, status, seen, why, fix: status === 'ok' || status === 'na' ? null : fix };
}

/** The fix that makes a sysctl setting last across reboots and applies it now. */
export function sysctlFix(key: string, value: string | number, file: string): string {
  return `echo '${key} = ${value}' > /etc/sysctl.d/${file} && sysctl -p /etc/sysctl.d/${file}`;
}
