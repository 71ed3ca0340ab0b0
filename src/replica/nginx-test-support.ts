import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

// Debian's nginx running docs/nginx.conf, the configuration barge ships for production serving,
// for tests and bench/serve.mjs: the file is rendered for a data directory, a loopback port and
// a private prefix, nothing else changed, and nginx runs in the foreground as a child.

/** docs/nginx.conf of this checkout. */
export const NGINX_CONF = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docs',
  'nginx.conf',
);

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
 * docs/nginx.conf for `setup`: paths, port, upstream and pid/log locations substituted, `daemon
 * off` added to run as a child, and `user root` when run by root (so workers can read files in
 * private temporary directories; production runs workers as www-data).
 */
export function renderNginxConfig(setup: NginxSetup): string {
  let text = readFileSync(NGINX_CONF, 'utf8')
    .replaceAll('/srv/barge-data/www', path.join(setup.prefix, 'www'))
    .replaceAll('/srv/barge-data', setup.dataDir)
    .replace('listen 80;', `listen 127.0.0.1:${setup.port};`)
    .replace('server 127.0.0.1:8080;', `server ${setup.barge ?? '127.0.0.1:8080'};`)
    .replace('pid /run/nginx-barge.pid;', `pid ${setup.prefix}/nginx.pid;`)
    .replaceAll('/var/log/nginx/', `${setup.prefix}/logs/`);
  if (setup.workers !== undefined)
    text = text.replace('worker_processes auto;', `worker_processes ${setup.workers};`);
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `daemon off;\n${user}${text}`;
}

/** A running nginx. */
export interface NginxProcess {
  url: string;
  port: number;
  /** The master and its workers (for CPU accounting). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Starts nginx with docs/nginx.conf rendered for `setup` (port 0 picks a free one). */
export async function startNginx(setup: Omit<NginxSetup, 'port'> & { port?: number }): Promise<NginxProcess> {
  const port = setup.port || (await freePort());
  mkdirSync(path.join(setup.prefix, 'logs'), { recursive: true });
  mkdirSync(path.join(setup.prefix, 'www'), { recursive: true });
  rmSync(path.join(setup.prefix, 'www', 'cvmfs'), { force: true });
  symlinkSync(path.join(setup.dataDir, 'repos'), path.join(setup.prefix, 'www', 'cvmfs'));
  const conf = path.join(setup.prefix, 'nginx.conf');
  writeFileSync(conf, renderNginxConfig({ ...setup, port }));
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
  for (let i = 0; !(await accepts(port)); i++) {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
