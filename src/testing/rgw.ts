import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FIXTURE_DIR } from './fixture.js';
import { freePort } from './ports.js';

const run = promisify(execFile);
const TOOLS = path.resolve(FIXTURE_DIR, '..', '..', 'tools');

/** A running single-node Ceph with radosgw: a real S3 server on loopback, data in memory. */
export interface Rgw {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Environment for barge commands: BARGE_S3_ACCESS_KEY and BARGE_S3_SECRET_KEY. */
  env: Record<string, string>;
  /** Stops the daemons and removes their directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway Ceph RGW with shared/tools/ceph-rgw-start.sh (about 15 s; the first run on a
 * machine also installs Debian's radosgw, ceph-mon and ceph-osd, which needs root). Each call
 * gets its own directory and free ports, so test files running in parallel do not collide.
 */
export async function startRgw(): Promise<Rgw> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barge-rgw-'));
  const [rgwPort, monPort] = [await freePort(), await freePort()];
  const stop = async () => {
    await run('bash', [path.join(TOOLS, 'ceph-rgw-stop.sh'), dir]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [path.join(TOOLS, 'ceph-rgw-start.sh'), dir], {
      env: { ...process.env, RGW_PORT: String(rgwPort), MON_PORT: String(monPort) },
      timeout: 600_000,
      maxBuffer: 16 << 20,
    }));
  } catch (err) {
    await stop();
    const e = err as { stderr?: string; message: string };
    throw new Error(`ceph-rgw-start.sh failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const vars = new Map(
    stdout
      .split('\n')
      .map((l) => /^(S3_[A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, m[2] as string]),
  );
  const endpoint = vars.get('S3_ENDPOINT');
  const accessKey = vars.get('S3_ACCESS_KEY');
  const secretKey = vars.get('S3_SECRET_KEY');
  if (!endpoint || !accessKey || !secretKey) {
    await stop();
    throw new Error(`ceph-rgw-start.sh printed no S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY:\n${stdout}`);
  }
  return {
    endpoint,
    accessKey,
    secretKey,
    env: { BARGE_S3_ACCESS_KEY: accessKey, BARGE_S3_SECRET_KEY: secretKey },
    stop,
  };
}
