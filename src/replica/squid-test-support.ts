import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, promises as fsp, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptsConnections, freePort } from '../testing/ports.js';

// A real Squid (Debian's `squid`) on loopback for tests (tests only): a minimal configuration in
// a temporary directory, run in the foreground as a child, and its access log read back.

/** Whether a squid binary is installed (CI installs Debian's package). */
export function squidAvailable(): boolean {
  return spawnSync('squid', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** One line of Squid's native access log. */
export interface SquidLogEntry {
  /** `TCP_MISS`, `TCP_MEM_HIT`, `TCP_REFRESH_MODIFIED`... */
  code: string;
  status: number;
  bytes: number;
  url: string;
}

/** A running Squid. */
export interface SquidProcess {
  /** `http://127.0.0.1:<port>`, for HttpSource's proxy option or http_proxy. */
  url: string;
  port: number;
  accessLog(): SquidLogEntry[];
  stop(): Promise<void>;
}

/** Answers a cache hit, from memory or disk, or a revalidation that kept the cached copy. */
export function isCacheHit(code: string): boolean {
  return /^TCP_(MEM_HIT|HIT|REFRESH_UNMODIFIED|IMS_HIT)$/.test(code);
}

/**
 * Starts Squid with a memory-only cache on a free loopback port. The configuration keeps Squid's
 * defaults where they matter to the test: refresh_pattern applies only to answers without
 * explicit freshness, so barge serve's Cache-Control decides (no override-expire, no
 * ignore-reload). Started as root, Squid drops to its `proxy` user, so its files live in a
 * directory of their own that this user owns and can reach (test temp dirs are mode 0700);
 * stop() removes it.
 */
export async function startSquid(): Promise<SquidProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barge-squid-'));
  const port = await freePort();
  const conf = path.join(dir, 'squid.conf');
  await fsp.writeFile(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      `access_log stdio:${dir}/access.log squid`,
      'cache_store_log none',
      'logfile_rotate 0',
      'netdb_filename none',
      'pinger_enable off',
      `coredump_dir ${dir}`,
      'cache_mem 64 MB',
      'maximum_object_size_in_memory 8 MB',
      'http_access allow localhost',
      'http_access deny all',
      'shutdown_lifetime 1 second',
      'refresh_pattern . 0 20% 4320',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) {
    const ids = spawnSync('id', ['-u', 'proxy'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'proxy'], { encoding: 'utf8' });
    if (ids.status === 0) chownSync(dir, Number(ids.stdout), Number(gid.stdout));
  }
  const child: ChildProcess = spawn('squid', ['-N', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  while (!(await acceptsConnections(port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = await fsp.readFile(path.join(dir, 'cache.log'), 'utf8').catch(() => '');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`squid did not start on port ${port}:\n${stderr}\n${log}`);
    }
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accessLog: () => parseAccessLog(path.join(dir, 'access.log')),
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
      if (!process.env.BARGE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parseAccessLog(file: string): SquidLogEntry[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      // time elapsed client code/status bytes method URL ident hierarchy type
      const f = line.trim().split(/\s+/);
      const [code = '', status = '0'] = (f[3] ?? '').split('/');
      return { code, status: Number(status), bytes: Number(f[4]), url: f[6] ?? '' };
    });
}
