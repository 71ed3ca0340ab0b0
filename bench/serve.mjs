#!/usr/bin/env node
// bench/serve: `barge serve` against nginx serving the same repository files, 4 KiB and 1 MiB
// objects, 50 keep-alive connections, rounds interleaved in one run (style point 13). Goal:
// barge ≥ 0.8× nginx's requests per second. The load generator is our own (bench/http-load.mjs:
// raw keep-alive sockets in this process; autocannon could not read 1 MiB bodies faster than
// ~40 MB/s here). It shares the machine's cores with the servers, so each server's CPU per
// request is reported too (from /proc), which neither the generator nor other load blurs much.
// Exits 0 whether the goal is met or not; non-zero only when a step fails.
//
//   npm run bench:serve -- [--duration 10] [--rounds 3] [--connections 50] [--nginx-workers 1]
//                          [--keep]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { httpLoad } from './http-load.mjs';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'nginx-workers': { type: 'string', default: '1' },
    cache: { type: 'string', default: path.join(repo, '.bench') },
    keep: { type: 'boolean', default: false },
  },
});
const duration = Number(opts.duration);
const rounds = Math.max(1, Number(opts.rounds));
const connections = Number(opts.connections);
const work = path.join(path.resolve(opts.cache), 'serve');
const data = path.join(work, 'data');
const FQRN = 'bench.serve.test';
const GOAL = 0.8;
// One nginx worker by default: one process against barge's one event loop (barge nginx-conf: auto).
const nginxWorkers = opts['nginx-workers'] === 'auto' ? undefined : Number(opts['nginx-workers']);
const SIZES = [
  { label: '4 KiB', bytes: 4096, count: 2000 },
  { label: '1 MiB', bytes: 1 << 20, count: 64 },
];

const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

if (!fs.existsSync(path.join(repo, 'dist', 'cli', 'index.js'))) {
  log('dist/ is missing: run `npm run build` first (npm run bench:serve does).');
  process.exit(2);
}
if (spawnSync('nginx', ['-v']).status !== 0) {
  log('nginx is not installed (Debian: apt-get install nginx).');
  process.exit(2);
}

// 1. The files: objects named as a stratum 0 names them, under data/XX/, plus a manifest-like file.
fs.rmSync(work, { recursive: true, force: true });
const served = path.join(data, 'repos', FQRN);
const paths = new Map();
for (const size of SIZES) {
  const list = [];
  for (let i = 0; i < size.count; i++) {
    const body = randomBytes(size.bytes);
    const hash = createHash('sha1').update(body).digest('hex');
    const key = `data/${hash.slice(0, 2)}/${hash.slice(2)}`;
    fs.mkdirSync(path.join(served, path.dirname(key)), { recursive: true });
    fs.writeFileSync(path.join(served, key), body);
    list.push(`/cvmfs/${FQRN}/${key}`);
  }
  paths.set(size.label, list);
}
fs.writeFileSync(path.join(served, '.cvmfspublished'), 'C0000000000000000000000000000000000000000\n');

// 2. The servers, each a child on its own port.
const bargePort = await freePort();
const barge = spawn(
  process.execPath,
  [path.join(repo, 'bin', 'barge.js'), 'serve', '--data', data, '--listen', `127.0.0.1:${bargePort}`],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
// The HTTP core alone (createServer: no request log, metrics or dashboard), to show what they cost.
const corePort = await freePort();
const core = spawn(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `const { startServer } = await import(${JSON.stringify(path.join(repo, 'dist', 'server', 'index.js'))});
     await startServer({ dataDir: ${JSON.stringify(data)}, listen: '127.0.0.1:${corePort}' });`,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
// nginx runs what `barge nginx-conf` prints for this data directory, the production configuration,
// with the test switches only: a loopback port, the foreground, pid and logs of its own.
const { nginxConfArgs, startNginx } = await import(
  path.join(repo, 'dist', 'replica', 'nginx-test-support.js')
);
const nginxSetup = {
  dataDir: data,
  prefix: path.join(work, 'nginx'),
  port: await freePort(),
  barge: `127.0.0.1:${bargePort}`,
  workers: nginxWorkers,
};
const nginxConfig = execFileSync(
  process.execPath,
  [path.join(repo, 'bin', 'barge.js'), ...nginxConfArgs(nginxSetup)],
  {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
const nginx = await startNginx({ ...nginxSetup, config: nginxConfig });
const stopAll = () => {
  barge.kill('SIGTERM');
  core.kill('SIGTERM');
  void nginx.stop();
};
await Promise.all([waitForPort(bargePort), waitForPort(corePort)]);
const servers = [
  { name: 'barge serve', base: `http://127.0.0.1:${bargePort}`, pids: () => [barge.pid] },
  { name: 'barge core', base: `http://127.0.0.1:${corePort}`, pids: () => [core.pid] },
  { name: 'nginx', base: nginx.url, pids: () => nginx.pids() },
];
for (const s of servers) {
  const r = await fetch(`${s.base}${paths.get('4 KiB')[0]}`);
  if (r.status !== 200) throw new Error(`${s.name} answered ${r.status}`);
  log(`${s.name}: ${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
}

// 3. Rounds, interleaved: each size, each server, `rounds` times, after a short warm-up.
const results = new Map();
for (const size of SIZES) {
  for (const s of servers) await load(s, size, Math.min(3, duration));
  for (let round = 0; round < rounds; round++) {
    for (const s of servers) {
      const r = await load(s, size, duration);
      const key = `${size.label}|${s.name}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      log(
        `  ${size.label} ${s.name.padEnd(11)} ${r.rps.toFixed(0).padStart(7)} req/s  ` +
          `${(r.mbps / 1).toFixed(0).padStart(5)} MB/s  server CPU ${r.cpuUsPerReq.toFixed(0)} µs/req  ` +
          `(generator ${r.genCores.toFixed(2)} cores, other ${r.otherCores.toFixed(2)} cores)`,
      );
    }
  }
}
stopAll();
await nginx.stop();

// 4. Report.
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `\n${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, ${cpu}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, nginx ${nginxVersion()} ` +
    `(${opts['nginx-workers']} worker), barge at ${commit}, load average ${os.loadavg()[0].toFixed(1)}`,
);
console.log(
  `bench/http-load.mjs, ${connections} keep-alive connections, ${rounds} rounds of ${duration} s, interleaved; medians\n`,
);
for (const size of SIZES) {
  const b = results.get(`${size.label}|barge serve`);
  const c = results.get(`${size.label}|barge core`);
  const n = results.get(`${size.label}|nginx`);
  const ratio = median(b.map((x, i) => x.rps / n[i].rps));
  const cpuRatio = median(n.map((x, i) => x.cpuUsPerReq / b[i].cpuUsPerReq));
  for (const [name, xs] of [
    ['barge serve', b],
    ['barge core', c],
    ['nginx', n],
  ]) {
    console.log(
      `  ${size.label} ${name.padEnd(11)} ${median(xs.map((x) => x.rps))
        .toFixed(0)
        .padStart(7)} req/s ` +
        `(${xs.map((x) => x.rps.toFixed(0)).join(' / ')}), server CPU ${median(xs.map((x) => x.cpuUsPerReq)).toFixed(0)} µs/req, ` +
        `p99 ${median(xs.map((x) => x.p99)).toFixed(1)} ms, other load ${median(xs.map((x) => x.otherCores)).toFixed(2)} cores`,
    );
  }
  console.log(
    `    barge ÷ nginx req/s  ${ratio.toFixed(2)}  goal ≥ ${GOAL}  ${ratio >= GOAL ? 'PASS' : 'MISS'}` +
      `  (per round ${b.map((x, i) => (x.rps / n[i].rps).toFixed(2)).join(' / ')}; ` +
      `CPU per request nginx ÷ barge ${cpuRatio.toFixed(2)})`,
  );
  const coreRatio = median(c.map((x, i) => x.rps / n[i].rps));
  console.log(
    `    barge core ÷ nginx req/s  ${coreRatio.toFixed(2)}  (the HTTP core without request log and metrics)`,
  );
}
console.log(
  '\n  nginx above runs what `barge nginx-conf` generates for production serving: where\n' +
    '  barge serve misses the goal, serve the repositories with it (barge serve behind it keeps the API).',
);
if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
process.exit(0);

/** One load run against a server over the objects of one size; rps, MB/s, CPU per request. */
async function load(server, size, seconds) {
  const list = paths.get(size.label);
  const before = cpuSnapshot(server.pids());
  const r = await httpLoad({ port: Number(new URL(server.base).port), paths: list, connections, seconds });
  const after = cpuSnapshot(server.pids());
  const wall = (after.at - before.at) / 1000;
  const serverCpu = after.server - before.server;
  const genCpu = after.own - before.own;
  if (r.non2xx > 0) throw new Error(`${server.name}: ${r.non2xx} answers were not 2xx`);
  return {
    rps: r.requests / r.seconds,
    mbps: r.bytes / r.seconds / 1e6,
    p99: r.p99,
    cpuUsPerReq: (serverCpu / r.requests) * 1e6,
    genCores: genCpu / wall,
    otherCores: Math.max(0, (after.busy - before.busy - serverCpu - genCpu) / wall),
    errors: r.errors,
  };
}

function cpuSnapshot(pids) {
  let server = 0;
  for (const pid of pids) server += processCpuSeconds(pid);
  const own = process.cpuUsage();
  return { server, own: (own.user + own.system) / 1e6, busy: busyCpuSeconds(), at: performance.now() };
}

function processCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return 0;
  }
}

function busyCpuSeconds() {
  const [user, nice, system, , , irq, softirq, steal] = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

function nginxVersion() {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return (r.stderr.match(/nginx\/(\S+)/) ?? [])[1] ?? '?';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on port ${port}`);
}
