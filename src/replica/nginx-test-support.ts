import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NginxConfigOptions, renderNginxConfig } from '../server/index.js';
import { acceptsConnections, freePort } from '../testing/ports.js';

// Debian's nginx running the configuration `barge nginx-conf` generates (renderNginxConfig,
// docs/nginx.conf filled in), for tests and bench/serve.mjs: rendered for a data directory, a
// loopback port and a private prefix, in the foreground as a child.

/** Whether nginx is installed. */
export function nginxAvailable(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Where the rendered configuration points. */
export interface NginxSetup {
  /** barge's data directory (its repos/ is served). */
  dataDir: string;
  /** A directory of nginx's own: configuration, logs, pid, the www/cvmfs link. */
  prefix: string;
  port: number;
  /** `host:port` of barge serve for what nginx passes on (default 127.0.0.1:8080). */
  barge?: string;
  /** worker_processes (default the file's `auto`). */
  workers?: number;
}

/**
 * The options of renderNginxConfig (and `barge nginx-conf`) for `setup`: root, pid and logs under
 * the prefix, listening on loopback, in the foreground, and as root when run by root (so workers
 * can read files in private temporary directories; production runs them as www-data).
 */
export function nginxOptions(setup: NginxSetup): NginxConfigOptions {
  return {
    dataDir: setup.dataDir,
    www: path.join(setup.prefix, 'www'),
    listen: `127.0.0.1:${setup.port}`,
    upstream: setup.barge ?? '127.0.0.1:8080',
    workers: setup.workers ?? 'auto',
    pidFile: path.join(setup.prefix, 'nginx.pid'),
    logDir: path.join(setup.prefix, 'logs'),
    foreground: true,
    ...(process.getuid?.() === 0 ? { user: 'root' } : {}),
  };
}

/** The arguments of `barge nginx-conf` that print renderNginxConfig(nginxOptions(setup)). */
export function nginxConfArgs(setup: NginxSetup): string[] {
  const o = nginxOptions(setup);
  return [
    'nginx-conf',
    ...['--data', o.dataDir, '--www', o.www as string, '--listen', o.listen as string],
    ...['--upstream', o.upstream as string, '--workers', String(o.workers)],
    ...['--pid-file', o.pidFile as string, '--log-dir', o.logDir as string, '--foreground'],
    ...(o.user ? ['--user', o.user] : []),
  ];
}

/** `nginx -t` of a configuration file under `prefix`: its exit status and what it printed. */
export function testNginxConfig(prefix: string, conf: string): { status: number | null; output: string } {
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const r = spawnSync(
    'nginx',
    ['-t', '-p', prefix, '-e', path.join(prefix, 'logs', 'error.log'), '-c', conf],
    {
      encoding: 'utf8',
    },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A running nginx. */
export interface NginxProcess {
  url: string;
  port: number;
  /** The master and its workers (for CPU accounting). */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * Starts nginx with renderNginxConfig(nginxOptions(setup)), or with `config` when given (the
 * output of `barge nginx-conf` for nginxOptions(setup)); port 0 picks a free one.
 */
export async function startNginx(
  setup: Omit<NginxSetup, 'port'> & { port?: number; config?: string },
): Promise<NginxProcess> {
  const port = setup.port || (await freePort());
  mkdirSync(path.join(setup.prefix, 'logs'), { recursive: true });
  mkdirSync(path.join(setup.prefix, 'www'), { recursive: true });
  rmSync(path.join(setup.prefix, 'www', 'cvmfs'), { force: true });
  symlinkSync(path.join(setup.dataDir, 'repos'), path.join(setup.prefix, 'www', 'cvmfs'));
  const conf = path.join(setup.prefix, 'nginx.conf');
  writeFileSync(conf, setup.config ?? (await renderNginxConfig(nginxOptions({ ...setup, port }))));
  const errorLog = path.join(setup.prefix, 'logs', 'error.log');
  const child: ChildProcess = spawn('nginx', ['-p', setup.prefix, '-e', errorLog, '-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  for (let i = 0; !(await acceptsConnections(port)); i++) {
    if (exited || i > 300) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start on port ${port}: ${stderr}`);
    }
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pids: () => [child.pid as number, ...childrenOf(child.pid as number)],
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
