// On ext4 without a journal (the disk of our CI VMs), the kernel will not reuse an inode freed in
// roughly the last minute: every file creation scans past such inodes (recently_deleted() in
// fs/ext4/ialloc.c), which costs kernel time per created file. Measured here: a publish creating
// 4,600 objects spent 3.1 s of system time 3 s after deleting 18,000 entries, 2.4 s after 75 s and
// 1.2 s (the baseline) after 110 s. A benchmark that deletes files therefore notes when, and the
// next run waits until those inodes are reusable.
import * as fs from 'node:fs';
import path from 'node:path';

const SETTLE_MS = 120_000;

/** Records that many files under `dir` were just deleted. */
export function markFreed(stampFile) {
  fs.writeFileSync(stampFile, `${Date.now()}\n`);
}

/**
 * Waits until files deleted by an earlier run no longer slow file creation in `dir`; returns the
 * milliseconds waited (0 on other filesystems or when the last delete is old enough).
 */
export async function waitForFreedInodes(dir, stampFile, log) {
  let freedAt = 0;
  try {
    freedAt = Number(fs.readFileSync(stampFile, 'utf8'));
  } catch {
    return 0;
  }
  const wait = freedAt + SETTLE_MS - Date.now();
  if (wait <= 0 || !onUnjournaledExt4(dir)) return 0;
  log(`waiting ${(wait / 1000).toFixed(0)} s: files deleted by the last run still slow file creation here`);
  await new Promise((resolve) => setTimeout(resolve, wait));
  return wait;
}

/** Whether `dir` is on an ext4 filesystem mounted without a journal. */
function onUnjournaledExt4(dir) {
  try {
    const dev = fs.statSync(dir).dev;
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    const name = path.basename(fs.realpathSync(`/sys/dev/block/${major}:${minor}`));
    // journal_task names the jbd2 thread of a journaled filesystem, "<none>" without a journal.
    return !/\d/.test(fs.readFileSync(`/sys/fs/ext4/${name}/journal_task`, 'utf8'));
  } catch {
    return false;
  }
}
