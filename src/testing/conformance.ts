import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { FIXTURE_DIR } from './fixture.js';

/** The independent checker shipped in shared/tools (rules tried against the real 2.11.5 client). */
export const CONFORMANCE_TOOL = path.resolve(FIXTURE_DIR, '..', '..', 'tools', 'cvmfs-conformance.py');

/** Runs cvmfs-conformance.py --strict (and --all-revisions by default) on a served directory or URL. */
export function runConformance(source: string, publicKey: string, options: { allRevisions?: boolean } = {}) {
  const args = [CONFORMANCE_TOOL, source, '--key', publicKey, '--strict', '--max-per-rule', '5'];
  if (options.allRevisions !== false) args.push('--all-revisions');
  const r = spawnSync('python3', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: r.status === 0, status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Fails the test with the checker's findings unless the repository is conformant with --strict. */
export function assertConformant(
  source: string,
  publicKey: string,
  options: { allRevisions?: boolean } = {},
): void {
  const r = runConformance(source, publicKey, options);
  assert.ok(r.ok, `cvmfs-conformance.py --strict failed on ${source}:\n${r.output}`);
}
