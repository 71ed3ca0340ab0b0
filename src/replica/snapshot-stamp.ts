import type { ObjectStore } from '../storage/index.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A time as `date --utc` prints it in the C locale (`Thu Nov 24 04:35:02 UTC 2022`, day of month
 * space-padded): what cvmfs_server snapshot writes to `.cvmfs_last_snapshot` and to
 * `last_snapshot` in `.cvmfs_status.json`, and what stratum-1 monitors (cvmfsmon) parse.
 */
export function dateUtc(t: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[t.getUTCDay()]} ${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ` +
    `${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} UTC ${t.getUTCFullYear()}`
  );
}

/**
 * Writes the stratum-1 bookkeeping after a snapshot: `.cvmfs_last_snapshot` (also what marks the
 * directory as a replica in repositories.json) and `last_snapshot` in `.cvmfs_status.json`, whose
 * other keys (`last_gc`) are kept.
 */
export async function writeSnapshotStamp(store: ObjectStore, at: Date): Promise<void> {
  const text = dateUtc(at);
  await store.put('.cvmfs_last_snapshot', Buffer.from(`${text}\n`));
  let status: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse((await store.get('.cvmfs_status.json')).toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      status = parsed as Record<string, unknown>;
  } catch {
    // absent or unreadable: written anew
  }
  status.last_snapshot = text;
  await store.put('.cvmfs_status.json', Buffer.from(`${JSON.stringify(status, null, 2)}\n`));
}
