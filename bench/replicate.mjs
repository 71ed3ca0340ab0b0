#!/usr/bin/env node
// bench/replicate: a stratum-1 snapshot of a ~200 MB repository (the /usr tree of bench/publish,
// published with barge) from `barge serve` over loopback, against a plain parallel download of the
// same objects with the same parallelism and keep-alive connections, written to files without any
// check (what `xargs -P16 curl -O` would do). Rounds interleaved (style point 13). Goal: the
// snapshot ≥ 0.8× the plain download's MB/s, i.e. limited by the network path, not by verifying,
// walking catalogs and the ledger. Also times a second snapshot with nothing new.
// Exits 0 whether the goal is met or not; non-zero only when a step fails.
//
//   npm run bench:replicate -- [--runs 3] [--parallel 16] [--rebuild] [--keep]
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { rssMethod, runMeasured } from './run-measured.mjs';
import { buildUsrTree, readTreeManifest, TREE_VERSION } from './usr-tree.mjs';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '16' },
    rebuild: { type: 'boolean', default: false },
    cache: { type: 'string', default: path.join(repo, '.bench') },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Math.max(1, Number(opts.runs));
const parallel = Number(opts.parallel);
const work = path.join(path.resolve(opts.cache), 'replicate');
const treeDir = path.join(work, 'tree');
const manifestFile = path.join(work, 'tree.json');
const barge = path.join(repo, 'bin', 'barge.js');
const FQRN = 'bench.replicate.test';
const MB = 1e6;
const GOAL = 0.8;

const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

if (!fs.existsSync(path.join(repo, 'dist', 'cli', 'index.js'))) {
  log('dist/ is missing: run `npm run build` first (npm run bench:replicate does).');
  process.exit(2);
}

// 1. The source: the bench/publish tree, published once into a barge repository.
const targets = {
  roots: ['/usr/bin', '/usr/include', '/usr/lib', '/usr/share'],
  targetBytes: 200 * MB,
  targetFiles: 5000,
};
let tree = readTreeManifest(manifestFile);
if (opts.rebuild || !tree || tree.version !== TREE_VERSION || !fs.existsSync(treeDir)) {
  log(`building the input tree in ${treeDir} ...`);
  fs.mkdirSync(work, { recursive: true });
  tree = buildUsrTree(treeDir, manifestFile, targets);
}
const sourceData = path.join(work, 'source');
fs.rmSync(sourceData, { recursive: true, force: true });
log('publishing the tree into the source repository ...');
execFileSync(process.execPath, [barge, 'init', FQRN, '--data', sourceData], { stdio: 'ignore' });
execFileSync(process.execPath, [barge, 'publish', FQRN, treeDir, '--data', sourceData], { stdio: 'ignore' });
const served = path.join(sourceData, 'repos', FQRN);
const pub = path.join(sourceData, 'keys', `${FQRN}.pub`);
const keys = fs
  .readdirSync(path.join(served, 'data'), { recursive: true })
  .map((k) => `data/${k}`)
  .filter((k) => /^data\/[0-9a-f]{2}\/[0-9a-f]{38}/.test(k));
const totalBytes = keys.reduce((n, k) => n + fs.statSync(path.join(served, k)).size, 0);
log(
  `  ${keys.length} objects, ${(totalBytes / MB).toFixed(1)} MB stored (of ${(tree.bytes / MB).toFixed(0)} MB in ${tree.files} files)`,
);

const port = await freePort();
const server = spawn(
  process.execPath,
  [barge, 'serve', '--data', sourceData, '--listen', `127.0.0.1:${port}`],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
await waitForPort(port);
const url = `http://127.0.0.1:${port}/cvmfs/${FQRN}`;

// 2. Rounds: plain download, then a snapshot into a fresh data dir, then a snapshot with nothing new.
const plain = [];
const snaps = [];
const again = [];
const loadBefore = os.loadavg();
for (let i = 0; i < runs; i++) {
  log(`round ${i + 1}/${runs}: plain download, barge replicate, barge replicate again ...`);
  const dest = path.join(work, `plain-${i}`);
  fs.rmSync(dest, { recursive: true, force: true });
  plain.push(await plainDownload(dest));
  fs.rmSync(dest, { recursive: true, force: true });
  const data = path.join(work, `replica-${i}`);
  fs.rmSync(data, { recursive: true, force: true });
  const argv = [
    process.execPath,
    barge,
    'replicate',
    url,
    FQRN,
    '--key',
    pub,
    '--data',
    data,
    '--parallel',
    `${parallel}`,
  ];
  snaps.push(await runMeasured(argv));
  again.push(await runMeasured(argv));
  if (!opts.keep) fs.rmSync(data, { recursive: true, force: true });
}
const loadAfter = os.loadavg();
server.kill('SIGTERM');

// 3. Report.
const fetched = (r) => Number(/\((\d+(?:\.\d+)?) MiB\)/.exec(r.stdout)?.[1] ?? 0) * 2 ** 20;
const snapMbs = snaps.map((r) => totalBytes / MB / r.seconds);
const plainMbs = plain.map((r) => r.bytes / MB / r.seconds);
const ratios = snapMbs.map((x, i) => x / plainMbs[i]);
const ratio = median(ratios);
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
const list = (xs, d = 1) => xs.map((x) => x.toFixed(d)).join(' / ');
console.log(
  `\n${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, ${os.cpus()[0]?.model}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, barge at ${commit}`,
);
console.log(
  `load average ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' ')} after; ` +
    `source: barge serve on loopback; ${keys.length} objects, ${(totalBytes / MB).toFixed(1)} MB; parallelism ${parallel}; ` +
    `peak RSS by ${rssMethod}\n`,
);
console.log(
  `  plain parallel download  ${median(plainMbs).toFixed(1)} MB/s  (${list(plainMbs)}; ${median(plain.map((r) => r.seconds)).toFixed(2)} s)`,
);
console.log(
  `  barge replicate          ${median(snapMbs).toFixed(1)} MB/s  (${list(snapMbs)}; ${median(snaps.map((r) => r.seconds)).toFixed(2)} s, ` +
    `CPU ${median(snaps.map((r) => r.cpuSeconds ?? 0)).toFixed(2)} s, peak RSS ${Math.max(...snaps.map((r) => r.peakRssMb)).toFixed(0)} MB, ` +
    `other load ${median(snaps.map((r) => r.otherCores ?? 0)).toFixed(2)} cores; fetched ${(fetched(snaps[0]) / MB).toFixed(1)} MB)`,
);
console.log(
  `    ÷ plain download       ${ratio.toFixed(2)}  goal ≥ ${GOAL}  ${ratio >= GOAL ? 'PASS' : 'MISS'}  (per round ${list(ratios, 2)})`,
);
console.log(
  `  second snapshot, nothing new  ${median(again.map((r) => r.seconds)).toFixed(2)} s  (${list(
    again.map((r) => r.seconds),
    2,
  )}; fetched ${(fetched(again[0]) / MB).toFixed(3)} MB)`,
);
if (!opts.keep) fs.rmSync(sourceData, { recursive: true, force: true });
process.exit(0);

/** GETs every object with `parallel` keep-alive connections and writes each to a file. */
async function plainDownload(dest) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
  for (let i = 0; i < 256; i++)
    fs.mkdirSync(path.join(dest, i.toString(16).padStart(2, '0')), { recursive: true });
  const started = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const body = await get(`${url}/${key}`, agent);
      bytes += body.length;
      await fs.promises.writeFile(path.join(dest, key.slice(5)), body);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { seconds, bytes };
}

function get(target, agent) {
  return new Promise((resolve, reject) => {
    http
      .get(target, { agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks))
            : reject(new Error(`${target}: ${res.statusCode}`)),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

async function waitForPort(p) {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(p, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on port ${p}`);
}
