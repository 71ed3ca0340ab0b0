#!/usr/bin/env node
// bench/s3: the first publish of bench/publish's ~200 MB, ~5,000-file copy of /usr into a
// repository kept in S3 (a local Ceph RGW started by shared/tools/ceph-rgw-start.sh, or any
// endpoint given) against the same publish onto the filesystem store, in the same run, rounds
// interleaved (style point 13). Goal: S3 at least 0.5× the filesystem's speed. The RGW daemons
// run on the same cores as barge: their CPU is reported beside the times.
// Exits 0 whether the goal is met or not (PASS/MISS is printed); non-zero only when a step fails.
//
//   npm run bench:s3 -- [--runs 3] [--cache .bench] [--endpoint URL --bucket B]  (credentials:
//   BARGE_S3_ACCESS_KEY, BARGE_S3_SECRET_KEY; without --endpoint a throwaway RGW is started)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { markFreed, waitForFreedInodes } from './freed-inodes.mjs';
import { runMeasured } from './run-measured.mjs';
import { buildUsrTree, readTreeManifest, TREE_VERSION } from './usr-tree.mjs';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    cache: { type: 'string', default: path.join(repo, '.bench') },
    endpoint: { type: 'string' },
    bucket: { type: 'string', default: 'barge-bench' },
    rebuild: { type: 'boolean', default: false },
  },
});
const runs = Math.max(1, Number(opts.runs));
const work = path.join(path.resolve(opts.cache), 's3');
const treeDir = path.join(work, 'tree');
const manifestFile = path.join(work, 'tree.json');
const freedStamp = path.join(work, 'freed-at');
const barge = path.join(repo, 'bin', 'barge.js');
const tools = path.resolve(repo, '..', 'shared', 'tools');
const FQRN = 'bench.barge.test';
const MB = 1e6;
const GOAL = 0.5;

const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

if (!fs.existsSync(path.join(repo, 'dist', 'cli', 'index.js'))) {
  log('dist/ is missing: run `npm run build` first (npm run bench:s3 does).');
  process.exit(2);
}
fs.mkdirSync(work, { recursive: true });

// 1. The input tree: bench/publish's selection, built once and cached.
const targets = {
  roots: ['/usr/bin', '/usr/include', '/usr/lib', '/usr/share'],
  targetBytes: 200 * MB,
  targetFiles: 5000,
};
let tree = readTreeManifest(manifestFile);
if (opts.rebuild || !tree || tree.version !== TREE_VERSION || !fs.existsSync(treeDir)) {
  log(`building the input tree in ${treeDir} ...`);
  tree = buildUsrTree(treeDir, manifestFile, targets);
} else log(`reusing the input tree in ${treeDir} (--rebuild to rebuild)`);
for (const f of fs.readdirSync(treeDir, { recursive: true })) {
  const abs = path.join(treeDir, f);
  if (fs.lstatSync(abs).isFile()) fs.readFileSync(abs);
}

// 2. The S3 endpoint: given, or a throwaway RGW (data in memory) on a free port.
const rgwDir = path.join(work, 'rgw');
let endpoint = opts.endpoint;
let env = { ...process.env };
if (!endpoint) {
  log('starting Ceph RGW (about 15 s) ...');
  const out = execFileSync('bash', [path.join(tools, 'ceph-rgw-start.sh'), rgwDir], {
    encoding: 'utf8',
    env: { ...process.env, RGW_PORT: String(await freePort()), MON_PORT: String(await freePort()) },
  });
  const v = Object.fromEntries(
    out
      .split('\n')
      .map((l) => /^(S3_[A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
  endpoint = v.S3_ENDPOINT;
  env = { ...env, BARGE_S3_ACCESS_KEY: v.S3_ACCESS_KEY, BARGE_S3_SECRET_KEY: v.S3_SECRET_KEY };
}
const rgwPids = () => {
  try {
    return ['client.rgw.a', 'osd.0', 'mon.a'].map((n) =>
      Number(fs.readFileSync(path.join(rgwDir, 'run', `${n}.pid`), 'utf8')),
    );
  } catch {
    return [];
  }
};

// 3. Rounds: filesystem and S3 publishes of the same tree into fresh repositories, the order
// alternating so that neither always runs on a warmer machine.
const dataDirs = Array.from({ length: runs }, (_, i) => [
  path.join(work, `fs-${i}`),
  path.join(work, `s3-${i}`),
]).flat();
for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
await waitForFreedInodes(work, freedStamp, log);
const stamp = Date.now().toString(36);
const fsRuns = [];
const s3Runs = [];
try {
  for (let i = 0; i < runs; i++) {
    const fsData = path.join(work, `fs-${i}`);
    const s3Data = path.join(work, `s3-${i}`);
    const onFs = async () => {
      await runMeasured([process.execPath, barge, 'init', FQRN, '--data', fsData]);
      const r = await runMeasured([
        process.execPath,
        barge,
        'publish',
        FQRN,
        treeDir,
        '--data',
        fsData,
        '--json',
      ]);
      fsRuns.push({ ...r, result: lastJson(r.stdout) });
    };
    const onS3 = async () => {
      const s3 = [
        '--s3-endpoint',
        endpoint,
        '--s3-bucket',
        opts.bucket,
        '--s3-prefix',
        `bench-${stamp}-${i}`,
      ];
      await runMeasured([process.execPath, barge, 'init', FQRN, '--data', s3Data, ...s3], { env });
      const cpu0 = rgwCpuSeconds(rgwPids());
      const r = await runMeasured(
        [process.execPath, barge, 'publish', FQRN, treeDir, '--data', s3Data, '--json'],
        { env },
      );
      s3Runs.push({ ...r, result: lastJson(r.stdout), rgwCpu: rgwCpuSeconds(rgwPids()) - cpu0 });
    };
    log(`round ${i + 1}/${runs}: publish onto the filesystem and into S3 ...`);
    if (i % 2 === 0) {
      await onFs();
      await onS3();
    } else {
      await onS3();
      await onFs();
    }
  }
} finally {
  if (!opts.endpoint) execFileSync('bash', [path.join(tools, 'ceph-rgw-stop.sh'), rgwDir]);
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(rgwDir, { recursive: true, force: true });
  markFreed(freedStamp);
}

// 4. Report.
const fsS = median(fsRuns.map((r) => r.seconds));
const s3S = median(s3Runs.map((r) => r.seconds));
const ratio = fsS / s3S;
const list = (xs) => xs.map((x) => x.toFixed(2)).join(' / ');
const cpu = (xs) =>
  xs[0].cpuSeconds === null ? '' : `; CPU ${median(xs.map((r) => r.cpuSeconds)).toFixed(2)} s`;
const r = s3Runs[0].result;
const rows = [
  ['date', new Date().toISOString().replace(/\.\d+Z$/, 'Z')],
  ['machine', machine()],
  ['barge', gitDescribe()],
  [
    'S3',
    opts.endpoint
      ? `${endpoint} (given)`
      : `Ceph RGW ${rgwVersion()} on this machine (memstore OSD), ${endpoint}`,
  ],
  [
    'input tree',
    `${(tree.bytes / MB).toFixed(1)} MB in ${tree.files} files, ${tree.symlinks} symlinks, ${tree.dirs} dirs ` +
      `(fingerprint ${tree.fingerprint})`,
  ],
  ['runs', `${runs} rounds, interleaved; medians; page cache warm`],
  [
    'publish onto fs',
    `${fsS.toFixed(2)} s  (${list(fsRuns.map((x) => x.seconds))}${cpu(fsRuns)}; ${(tree.bytes / MB / fsS).toFixed(1)} MB/s)`,
  ],
  [
    'publish into S3',
    `${s3S.toFixed(2)} s  (${list(s3Runs.map((x) => x.seconds))}${cpu(s3Runs)}; ${(tree.bytes / MB / s3S).toFixed(1)} MB/s)`,
  ],
  [
    '  RGW daemons',
    opts.endpoint
      ? 'remote'
      : `CPU ${median(s3Runs.map((x) => x.rgwCpu)).toFixed(2)} s during the S3 publish (same cores)`,
  ],
  [
    '  stored',
    `${r.objectsWritten} objects, ${(r.bytesWritten / MB).toFixed(1)} MB; ` +
      `${(r.objectsWritten / s3S).toFixed(0)} objects/s`,
  ],
  [
    'S3 speed ÷ fs speed',
    `${ratio.toFixed(3)}  goal ≥ ${GOAL}  ${ratio >= GOAL ? 'PASS' : 'MISS'}  ` +
      `(per round ${fsRuns.map((x, i) => (x.seconds / s3Runs[i].seconds).toFixed(3)).join(' / ')})`,
  ],
  [
    'other load',
    fsRuns[0].otherCores === null
      ? 'n/a'
      : `${median(fsRuns.map((x) => x.otherCores)).toFixed(2)} cores during fs publishes, ` +
        `${median(s3Runs.map((x) => x.otherCores)).toFixed(2)} during S3 ones (RGW included)`,
  ],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log('bench/s3');
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);

function lastJson(stdout) {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** User + system seconds of processes, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
function rgwCpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
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

function rgwVersion() {
  try {
    return (
      /ceph version (\S+)/.exec(execFileSync('radosgw', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?'
    );
  } catch {
    return '?';
  }
}

function machine() {
  const cpuName = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
  return `${os.availableParallelism()} cores (nproc), ${cpuName}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, Linux ${os.release()}`;
}

function gitDescribe() {
  try {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', 'src'], {
      encoding: 'utf8',
    }).trim();
    return `${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').length} paths)` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
