import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary directory for one test, removed by the returned cleanup (keep with BARGE_KEEP_TMP=1). */
export function tempDir(prefix = 'barge-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      if (!process.env.BARGE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
