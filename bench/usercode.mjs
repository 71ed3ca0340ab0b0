#!/usr/bin/env node
// bench/usercode: a real `barge serve` child on a fresh repository with uploads enabled, filled
// through the HTTP API with 10,000 small user tarballs (python package skeletons, a few KB to
// ~100 KB gzip, distinct content) from several groups, 32 in flight. At 1,000 and 10,000 uploads
// present it measures: one small upload at a time (median of 20, POST to `OK`), a ~10 MB upload
// from the start of its POST until the served /.cvmfspublished (polled every 50 ms over HTTP)
// names a revision that holds it, and a burst of 500 small uploads. Goals (issue 4): the 10 MB
// upload visible in < 3 s with 10,000 present; sustained small uploads ≥ 20/s; the time of one
// upload does not grow from 1,000 to 10,000. Ends with the conformance checker on the served
// directory and a sample of uploads read back with `barge pull` and compared byte for byte.
// Exits 0 whether goals are met or not (PASS/MISS are printed); non-zero only when a step fails.
//
//   npm run bench:usercode -- [--uploads 10000] [--first 1000] [--groups 10] [--concurrency 32] [--keep]
//     [--cache .bench] [--cpu-prof DIR] [--checker cvmfs-conformance.py] [--no-verify]
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { markFreed, waitForFreedInodes } from './freed-inodes.mjs';
import { runMeasured } from './run-measured.mjs';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    uploads: { type: 'string', default: '10000' },
    groups: { type: 'string', default: '10' },
    first: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    cache: { type: 'string', default: path.join(repo, '.bench') },
    'cpu-prof': { type: 'string' },
    checker: { type: 'string', default: path.resolve(repo, '..', 'shared', 'tools', 'cvmfs-conformance.py') },
    'no-verify': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const first = Math.max(1, Number(opts.first));
const total = Math.max(first + 2 * 600, Number(opts.uploads));
const groupCount = Math.max(1, Number(opts.groups));
const concurrency = Math.max(1, Number(opts.concurrency));
const checkpoints = [first, total];
const work = path.join(path.resolve(opts.cache), 'usercode');
const data = path.join(work, 'data');
const freedStamp = path.join(work, 'freed-at');
const barge = path.join(repo, 'bin', 'barge.js');
const FQRN = 'usercode.bench.barge.test';
const served = path.join(data, 'repos', FQRN);
const pubKey = path.join(data, 'keys', `${FQRN}.pub`);
const groups = Array.from({ length: groupCount }, (_, i) => `ana${String(i).padStart(2, '0')}`);
const SEQUENTIAL = 20;
const BURST = 500;
const BIG_RUNS = 3;
const POLL_MS = 50;
const PULL_SAMPLE = 6;
const MB = 1e6;
const GOALS = { bigVisibleS: 3, uploadsPerS: 20, growth: 1.5 };
const WORDS =
  'event jet muon track vertex energy pt eta phi charge weight hist cut sel reco truth calib'.split(' ');
const LICENSE = `BSD 3-Clause License\n\nCopyright (c) 2024, the analysis group\nAll rights reserved.\n\n${'Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met.\n'.repeat(8)}`;

const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

if (!fs.existsSync(path.join(repo, 'dist', 'testing', 'tar-builder.js'))) {
  log('dist/ is missing: run `npm run build` first (npm run bench:usercode does).');
  process.exit(2);
}
const { buildTar } = await import(path.join(repo, 'dist', 'testing', 'tar-builder.js'));
const { RepositoryReader, openSource } = await import(path.join(repo, 'dist', 'repository', 'index.js'));

// 1. A fresh data dir: init, uploads enable, one publish token per group.
fs.mkdirSync(work, { recursive: true });
if (fs.existsSync(data)) {
  log('removing the data dir left by an earlier run');
  fs.rmSync(data, { recursive: true, force: true });
  markFreed(freedStamp);
}
await waitForFreedInodes(work, freedStamp, log);
await runMeasured([process.execPath, barge, 'init', FQRN, '--data', data]);
await runMeasured([process.execPath, barge, 'uploads', 'enable', FQRN, '--data', data]);
const tokens = new Map();
for (const g of groups) {
  const r = await runMeasured([process.execPath, barge, 'token', 'create', '--group', g, '--data', data]);
  tokens.set(g, r.stdout.trim());
}

// 2. The small tarballs, made before anything is timed (the client must not compete with the
// server for the cores): upload i goes to group i mod groups.
log(`making ${total + 2 * (SEQUENTIAL + BURST)} small tarballs ...`);
const t0 = performance.now();
const small = [];
for (let i = 0; i < total + 2 * (SEQUENTIAL + BURST); i++) small.push(packTarball(smallUpload(i), i));
log(`  made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const smallSizes = small.map((t) => t.body.length);
const bigs = Array.from({ length: 2 * BIG_RUNS }, (_, k) => packTarball(bigUpload(k), small.length + k));

// 3. barge serve, a real child process.
const server = await startServe();
const base = server.url;
log(`barge serve at ${base} (pid ${server.child.pid})`);
let next = 0; // index of the next small tarball
const uploaded = []; // { index, cid, kind } of every upload, in order
const fill = [];
const points = [];
const loadBefore = os.loadavg();
const cpuStart = cpuSnapshot(server.child.pid);
try {
  for (const target of checkpoints) {
    const start = uploaded.length;
    const m = await measure(async () => runConcurrent(target - uploaded.length, concurrency));
    fill.push({ from: start, to: uploaded.length, ...m });
    log(
      `  fill ${start} → ${uploaded.length}: ${m.seconds.toFixed(1)} s, ${(m.count / m.seconds).toFixed(1)} uploads/s`,
    );
    points.push(await checkpoint());
  }
} finally {
  server.cpu = procCpuSeconds(server.child.pid);
  server.hwmMb = vmHwmKb(server.child.pid) / 1024;
  await server.stop();
}
const loadAfter = os.loadavg();
const cpuEnd = cpuSnapshot(server.child.pid, server.cpu);

// 4. Verification: the conformance checker on the served directory, then a sample read back.
let conformance = null;
let pulled = null;
if (!opts['no-verify']) {
  conformance = await runConformance();
  const again = await startServe();
  try {
    pulled = await pullSample(again.url);
  } finally {
    await again.stop();
  }
}
if (!opts.keep) {
  fs.rmSync(data, { recursive: true, force: true });
  markFreed(freedStamp);
}
report();

/** Fills `count` small uploads through /pubapi/publish with `width` in flight. */
async function runConcurrent(count, width) {
  let left = count;
  const one = async () => {
    while (left > 0) {
      left--;
      const i = next++;
      await publish(small[i], groups[i % groups.length], 'small');
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, one));
  return count;
}

/** Measurements with `uploaded.length` present: sequential small, 10 MB with the poller, a burst. */
async function checkpoint() {
  const present = uploaded.length;
  const rssMb = vmRssKb(server.child.pid) / 1024;
  log(`at ${present} uploads: ${SEQUENTIAL} sequential, ${BIG_RUNS} × 10 MB, burst of ${BURST} ...`);
  const seq = [];
  const seqCpu = cpuSnapshot(server.child.pid);
  for (let k = 0; k < SEQUENTIAL; k++) {
    const i = next++;
    const t = performance.now();
    await publish(small[i], groups[i % groups.length], 'sequential');
    seq.push((performance.now() - t) / 1000);
  }
  const seqOther = otherCores(seqCpu, cpuSnapshot(server.child.pid));
  const big = [];
  for (let k = 0; k < BIG_RUNS; k++) {
    const tarball = bigs[points.length * BIG_RUNS + k];
    big.push(await visibleLatency(tarball, groups[k % groups.length]));
    log(
      `  10 MB: OK after ${big[k].okS.toFixed(2)} s, in the served manifest after ${big[k].visibleS.toFixed(2)} s`,
    );
  }
  const burst = await measure(async () => runConcurrent(BURST, concurrency));
  log(
    `  sequential median ${median(seq).toFixed(3)} s; burst ${(burst.count / burst.seconds).toFixed(1)} uploads/s`,
  );
  return { present, rssMb, seq, seqOther, big, burst };
}

/**
 * Publishes one tarball and measures from the start of its POST until the manifest served over
 * HTTP names a revision at or past the one the ledger says holds the upload; then checks that
 * `exists` says PRESENT and that the tree of the served revision has the upload's files.
 */
async function visibleLatency(tarball, group) {
  const before = await servedRevision();
  const polls = [];
  let polling = true;
  const started = performance.now();
  const poller = (async () => {
    while (polling) {
      const tick = performance.now();
      const revision = await servedRevision();
      polls.push({ at: (performance.now() - started) / 1000, revision });
      await sleep(Math.max(0, POLL_MS - (performance.now() - tick)));
    }
  })();
  const cid = await publish(tarball, group, 'big');
  const okS = (performance.now() - started) / 1000;
  const record = await apiJson(`/api/v1/uploads/${cid}`, group);
  if (!(record.revision > before))
    throw new Error(`${cid} is in revision ${record.revision}, not after ${before}`);
  while (!polls.some((p) => p.revision >= record.revision)) await sleep(POLL_MS);
  polling = false;
  await poller;
  const seen = polls.find((p) => p.revision >= record.revision);
  const exists = await pubapi('exists', cid, group);
  if (exists !== `PRESENT:/cvmfs/${FQRN}/user/${cid}\n`) throw new Error(`exists ${cid}: ${exists}`);
  // The served revision's tree has the upload, as its own nested catalog.
  const reader = await RepositoryReader.open(await openSource(`${base}/cvmfs/${FQRN}`), {
    publicKeysPem: [fs.readFileSync(pubKey, 'utf8')],
  });
  try {
    if (reader.manifest.revision < record.revision) throw new Error('the served revision went back');
    const catalog = await reader.catalogFor(`/user/${cid}/setup.py`);
    if (catalog.mountpoint !== `/user/${cid}`) throw new Error(`${cid} is not its own nested catalog`);
    const d = await reader.lookup(`/user/${cid}/${tarball.first.name}`);
    if (!d || d.size !== tarball.first.size) throw new Error(`${cid}: first file missing`);
  } finally {
    await reader.close();
  }
  return {
    okS,
    visibleS: seen.at,
    revision: record.revision,
    bytes: tarball.body.length,
    polls: polls.length,
  };
}

/** POSTs a tarball to /pubapi/publish; resolves with its cid once answered `OK`. */
async function publish(tarball, group, kind) {
  const cid = `${group}/${tarball.sha256}`;
  const r = await fetch(`${base}/pubapi/publish?cid=${encodeURIComponent(cid)}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tokens.get(group)}`, 'Content-Type': 'application/octet-stream' },
    body: tarball.body,
  });
  const text = await r.text();
  if (r.status !== 200 || text !== 'OK\n') throw new Error(`publish ${cid}: ${r.status} ${text.trim()}`);
  uploaded.push({ index: tarball.index, cid, kind });
  return cid;
}

async function pubapi(op, cid, group) {
  const r = await fetch(`${base}/pubapi/${op}?cid=${encodeURIComponent(cid)}`, {
    headers: { Authorization: `Bearer ${tokens.get(group)}` },
  });
  return r.text();
}

async function apiJson(p, group) {
  const r = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${tokens.get(group)}` } });
  if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** The revision (S line) of the manifest barge serves. */
async function servedRevision(url = base) {
  const r = await fetch(`${url}/cvmfs/${FQRN}/.cvmfspublished`, { headers: { 'Cache-Control': 'no-cache' } });
  const text = Buffer.from(await r.arrayBuffer()).toString('latin1');
  const m = /^S(\d+)$/m.exec(text.slice(0, text.indexOf('\n--\n')));
  if (r.status !== 200 || !m) throw new Error(`no manifest served (${r.status})`);
  return Number(m[1]);
}

/** Runs `run`, which resolves with a count, and measures its wall time and the load of others. */
async function measure(run) {
  const before = cpuSnapshot(server.child.pid);
  const revision = await servedRevision();
  const t = performance.now();
  const count = await run();
  const seconds = (performance.now() - t) / 1000;
  const other = otherCores(before, cpuSnapshot(server.child.pid));
  return { count, seconds, other, revisions: (await servedRevision()) - revision };
}

/** Starts `barge serve` on a free port of 127.0.0.1 and waits for its "serving ... at URL" line. */
async function startServe() {
  const prof = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts['cpu-prof'])}`] : [];
  const out = fs.openSync(path.join(work, 'serve.log'), 'a');
  const child = spawn(
    process.execPath,
    [...prof, barge, 'serve', '--listen', '127.0.0.1:0', '--data', data],
    { stdio: ['ignore', 'pipe', out] },
  );
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      fs.writeSync(out, chunk);
      seen += chunk;
      const m = /serving .* at (http:\/\/[^/\s]+)\/cvmfs\//.exec(seen);
      if (m && /user code API/.test(seen)) resolve(m[1]);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`barge serve exited with ${code}; see ${work}/serve.log`)));
  });
  child.stdout.resume();
  return {
    child,
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.closeSync(out);
    },
  };
}

/** The conformance checker on the served directory, strict, the current revision. */
async function runConformance() {
  log('cvmfs-conformance.py --strict on the served directory ...');
  const tool = path.resolve(opts.checker);
  if (!fs.existsSync(tool)) return { skipped: `${tool} is missing` };
  const t = performance.now();
  const r = await new Promise((resolve) => {
    const child = spawn('python3', [tool, served, '--key', pubKey, '--strict', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const seconds = (performance.now() - t) / 1000;
  let summary = '';
  try {
    const j = JSON.parse(r.stdout);
    const counts = j.summary ?? j.counts ?? {};
    summary = Object.entries(counts)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  } catch {
    summary = (r.stdout || r.stderr).trim().split('\n').slice(-3).join(' | ');
  }
  log(`  exit ${r.code} in ${seconds.toFixed(0)} s`);
  return { ok: r.code === 0, seconds, summary };
}

/** Pulls a sample of uploads (the 10 MB ones among them) with the CLI and compares every file. */
async function pullSample(url) {
  const chosen = [
    ...uploaded.filter((u) => u.kind === 'big').slice(-2),
    ...Array.from(
      { length: PULL_SAMPLE },
      (_, k) => uploaded[Math.floor((k * uploaded.length) / PULL_SAMPLE)],
    ),
  ];
  const dest = path.join(work, 'pulled');
  let files = 0;
  const t = performance.now();
  for (const u of chosen) {
    fs.rmSync(dest, { recursive: true, force: true });
    await runMeasured([
      process.execPath,
      barge,
      'pull',
      `${url}/cvmfs/${FQRN}`,
      dest,
      '--path',
      `/user/${u.cid}`,
      '--key',
      pubKey,
    ]);
    const expected = u.kind === 'big' ? bigUpload(u.index - small.length) : smallUpload(u.index);
    for (const f of expected) {
      if (f.type === '5') continue;
      const got = fs.readFileSync(path.join(dest, f.name));
      if (!got.equals(Buffer.from(f.content))) throw new Error(`${u.cid}: ${f.name} differs after pull`);
      if ((fs.statSync(path.join(dest, f.name)).mode & 0o777) !== f.mode)
        throw new Error(`${u.cid}: ${f.name} mode differs after pull`);
      files++;
    }
  }
  fs.rmSync(dest, { recursive: true, force: true });
  return { uploads: chosen.length, files, seconds: (performance.now() - t) / 1000 };
}

// ---- Tarball contents: deterministic by index, so that a pull can be checked against them. ----

/** A python package skeleton with random parameters: a few files, a few KB to ~100 KB gzip. */
function smallUpload(i) {
  const rnd = prng(i + 1);
  const pkg = `ana_${i.toString(36)}`;
  const modules = 1 + Math.floor(rnd() * 4);
  const members = [
    { name: `${pkg}/`, type: '5', mode: 0o755 },
    {
      name: `${pkg}/__init__.py`,
      mode: 0o644,
      content: `"""Analysis ${i}."""\n__version__ = "1.${i % 97}.0"\n`,
    },
    { name: 'setup.py', mode: 0o644, content: setupPy(pkg, i) },
    { name: 'LICENSE', mode: 0o644, content: LICENSE },
    { name: 'run.sh', mode: 0o755, content: `#!/bin/sh\nset -e\nexec python3 -m ${pkg}.main "$@"\n` },
  ];
  // Source: 1-4 modules of 1-25 KB each (log-uniform), compressing about 4x as code does.
  for (let k = 0; k < modules; k++) {
    const bytes = Math.round(1000 * 25 ** rnd());
    members.push({
      name: `${pkg}/${k === 0 ? 'main' : `step${k}`}.py`,
      mode: 0o644,
      content: pythonSource(rnd, bytes),
    });
  }
  members.push({ name: `${pkg}/data/`, type: '5', mode: 0o755 });
  const cuts = Array.from({ length: 10 + Math.floor(rnd() * 200) }, () => Math.round(rnd() * 1e6) / 1e3);
  members.push({
    name: `${pkg}/data/params.json`,
    mode: 0o644,
    content: `${JSON.stringify({ upload: i, cuts })}\n`,
  });
  // A third carry a binary blob (calibration constants, a small model): 2-64 KB, incompressible.
  if (rnd() < 0.33) {
    members.push({
      name: `${pkg}/data/calib.bin`,
      mode: 0o644,
      content: randomBytes(rnd, Math.round(2000 * 32 ** rnd())),
    });
  }
  return members;
}

/** A ~10 MB gzip tarball: 16 MB of source text and 8 MB of random binary in 60 files. */
function bigUpload(k) {
  const rnd = prng(1e9 + k);
  const members = [
    { name: 'lib/', type: '5', mode: 0o755 },
    { name: 'src/', type: '5', mode: 0o755 },
  ];
  members.unshift({ name: 'setup.py', mode: 0o644, content: setupPy(`big_${k}`, k) });
  for (let f = 0; f < 40; f++)
    members.push({ name: `src/module${f}.py`, mode: 0o644, content: pythonSource(rnd, 400_000) });
  for (let f = 0; f < 20; f++)
    members.push({ name: `lib/libpart${f}.so`, mode: 0o755, content: randomBytes(rnd, 400_000) });
  return members;
}

function packTarball(members, index) {
  const body = zlib.gzipSync(buildTar(members), { level: 6 });
  const file = members.find((m) => m.type !== '5');
  // Contents are not kept: a pull is checked against the upload made again from its index.
  return {
    index,
    body,
    sha256: sha256(body),
    files: members.length,
    first: { name: file.name, size: file.content.length },
  };
}

function setupPy(pkg, i) {
  return `from setuptools import setup, find_packages\n\nsetup(\n    name="${pkg}",\n    version="1.${i % 97}.0",\n    packages=find_packages(),\n    install_requires=["numpy>=1.24", "uproot>=5", "awkward>=2"],\n)\n`;
}

/** Plausible python: functions with random names and constants, `bytes` long. */
function pythonSource(rnd, bytes) {
  const parts = ['import numpy as np\nimport awkward as ak\n\n'];
  let n = parts[0].length;
  while (n < bytes) {
    const w = () => WORDS[Math.floor(rnd() * WORDS.length)];
    const f =
      `def ${w()}_${w()}_${Math.floor(rnd() * 1e6).toString(36)}(events, threshold=${(rnd() * 100).toFixed(3)}):\n` +
      `    """Select ${w()} candidates above threshold."""\n` +
      `    mask = (events.${w()} > threshold) & (np.abs(events.${w()}) < ${(rnd() * 5).toFixed(2)})\n` +
      `    return ak.sum(events.${w()}[mask] * ${(rnd() * 10).toFixed(4)}, axis=${Math.floor(rnd() * 2)})\n\n`;
    parts.push(f);
    n += f.length;
  }
  return parts.join('').slice(0, bytes);
}

function randomBytes(rnd, n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, Math.min(i, n - 4));
  return b;
}

/** mulberry32: a small seeded generator, so that every run uploads the same bytes. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- CPU accounting: what barge serve used, what this process used, what everything else used. ----

function cpuSnapshot(pid, serveSeconds = procCpuSeconds(pid)) {
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    busy: busyCpuSeconds(),
    serve: serveSeconds,
    client: (self.user + self.system) / 1e6,
  };
}

/** Cores used by processes other than barge serve and this client between two snapshots. */
function otherCores(a, b) {
  const seconds = (b.at - a.at) / 1000;
  const others = b.busy - a.busy - (b.serve - a.serve) - (b.client - a.client);
  return {
    seconds,
    serve: (b.serve - a.serve) / seconds,
    client: (b.client - a.client) / seconds,
    other: Math.max(0, others / seconds),
  };
}

/** User + system seconds of a process and its waited-for children (`sync -f`), from /proc. */
function procCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (f[11] + f[12] + f[13] + f[14]) / 100; // utime stime cutime cstime, USER_HZ 100
  } catch {
    return 0;
  }
}

/** Seconds all CPUs spent busy since boot (/proc/stat: everything but idle and iowait). */
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

function vmRssKb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function vmHwmKb(pid) {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// ---- Report. ----

function report() {
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  const s = (x, d = 2) => `${x.toFixed(d)} s`;
  const rate = (m) => m.count / m.seconds;
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const cores = (o) =>
    `serve ${o.serve.toFixed(2)}, client ${o.client.toFixed(2)}, other ${o.other.toFixed(2)} cores`;
  const fillCount = fill.reduce((a, f) => a + f.count, 0);
  const fillSeconds = fill.reduce((a, f) => a + f.seconds, 0);
  const fillRate = fillCount / fillSeconds;
  const [p1, p2] = points;
  const seq1 = median(p1.seq);
  const seq2 = median(p2.seq);
  const growth = seq2 / seq1;
  const bigMax = Math.max(...p2.big.map((b) => b.visibleS));
  const perGroup = (n) => Math.round(n / groups.length);
  const cpuPer = (m) =>
    `${((1000 * m.other.serve * m.other.seconds) / m.count).toFixed(0)} ms serve CPU each`;
  const perRevision = (m) => `${(m.count / m.revisions).toFixed(1)} uploads per revision`;
  const rows = [
    ['date', new Date().toISOString().replace(/\.\d+Z$/, 'Z')],
    ['machine', machine()],
    ['load average', `${load(loadBefore)} before, ${load(loadAfter)} after (1/5/15 min)`],
    ['barge', gitDescribe()],
    [
      'setup',
      `barge serve child on 127.0.0.1, ${groups.length} group(s) (${groups[0]}…), cvmfs-user-pub POST /pubapi/publish, ` +
        `${concurrency} in flight for fills and bursts; OK means in a signed, served revision`,
    ],
    [
      'small tarballs',
      `gzip, median ${(median(smallSizes) / 1024).toFixed(1)} KiB, p10 ${(quantile(smallSizes, 0.1) / 1024).toFixed(1)}, ` +
        `p90 ${(quantile(smallSizes, 0.9) / 1024).toFixed(1)}, max ${(Math.max(...smallSizes) / 1024).toFixed(1)} KiB; ` +
        `${median(small.map((t) => t.files))} entries median (python package skeleton; a third with a binary blob)`,
    ],
    [
      '10 MB tarballs',
      `${(bigs[0].body.length / MB).toFixed(1)} MB gzip (60 files: 16 MB of source, 8 MB random binary)`,
    ],
    [
      'fill',
      `${fillCount} uploads in ${s(fillSeconds, 1)} = ${fillRate.toFixed(1)} uploads/s  goal ≥ ${GOALS.uploadsPerS}  ` +
        `${verdict(fillRate >= GOALS.uploadsPerS)}  (sustained throughput of small uploads)`,
    ],
    ...fill.map((f) => [
      `  ${f.from} → ${f.to}`,
      `${rate(f).toFixed(1)} uploads/s in ${s(f.seconds, 1)}, ${perRevision(f)}, ${cpuPer(f)}; ${cores(f.other)}`,
    ]),
    ...points.flatMap((p) => [
      [
        `at ${p.present}`,
        `(${perGroup(p.present)} per group directory; barge serve RSS ${p.rssMb.toFixed(0)} MB)`,
      ],
      [
        `  one small upload`,
        `median ${s(median(p.seq), 3)}, max ${s(Math.max(...p.seq), 3)} (${SEQUENTIAL} sequential, POST to OK; ` +
          `nothing else in flight); ${cores(p.seqOther)}`,
      ],
      [
        `  10 MB upload visible`,
        `${p.big.map((b) => b.visibleS.toFixed(2)).join(' / ')} s (POST start to the served manifest naming its ` +
          `revision, polled every ${POLL_MS} ms; OK answered at ${p.big.map((b) => b.okS.toFixed(2)).join(' / ')} s)` +
          (p === p2 ? `  goal < ${GOALS.bigVisibleS} s  ${verdict(bigMax < GOALS.bigVisibleS)}` : ''),
      ],
      [
        `  burst of ${BURST}`,
        `${rate(p.burst).toFixed(1)} uploads/s in ${s(p.burst.seconds, 1)}, ${perRevision(p.burst)}  ` +
          `${verdict(rate(p.burst) >= GOALS.uploadsPerS)}; ` +
          `${cpuPer(p.burst)}; ${cores(p.burst.other)}`,
      ],
    ]),
    [
      'growth 1,000 → 10,000',
      `one small upload ${s(seq1, 3)} → ${s(seq2, 3)} = ×${growth.toFixed(2)}  goal ≤ ×${GOALS.growth}  ` +
        `${verdict(growth <= GOALS.growth)}; 10 MB visible ${median(p1.big.map((b) => b.visibleS)).toFixed(2)} → ` +
        `${median(p2.big.map((b) => b.visibleS)).toFixed(2)} s (medians)`,
    ],
    [
      'barge serve',
      `${(cpuEnd.serve - cpuStart.serve).toFixed(0)} CPU s over ${((cpuEnd.at - cpuStart.at) / 1000).toFixed(0)} s; ` +
        `peak RSS ${server.hwmMb.toFixed(0)} MB (VmHWM); ${uploaded.length} uploads`,
    ],
    [
      'other load',
      `${otherCores(cpuStart, cpuEnd).other.toFixed(2)} cores on average used by other processes while measuring ` +
        `(of ${os.availableParallelism()})`,
    ],
    ...(conformance
      ? [
          [
            'conformance',
            conformance.skipped ??
              `cvmfs-conformance.py --strict (current revision): ${conformance.ok ? 'PASS' : 'FAIL'} in ` +
                `${s(conformance.seconds, 0)}${conformance.summary ? ` (${conformance.summary})` : ''}`,
          ],
        ]
      : []),
    ...(pulled
      ? [
          [
            'read back',
            `${pulled.uploads} uploads (2 of 10 MB) pulled with barge pull over HTTP, ${pulled.files} files equal ` +
              `byte for byte, modes too, in ${s(pulled.seconds, 1)}`,
          ],
        ]
      : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`bench/usercode (${groups.length} group${groups.length > 1 ? 's' : ''})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  if (conformance && !conformance.skipped && !conformance.ok) process.exitCode = 1;
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
  const mem = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${os.availableParallelism()} cores (nproc), ${cpu}, ${mem} GiB RAM, node ${process.version}, Linux ${os.release()}`;
}

function gitDescribe() {
  try {
    const run = (args) => spawnText('git', ['-C', repo, ...args]);
    const head = run(['rev-parse', '--short', 'HEAD']);
    const dirty = run(['status', '--porcelain', 'src', 'bench']);
    return `${head}${dirty ? ` + uncommitted changes (${dirty.split('\n').length} paths in src/ bench/)` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function spawnText(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}
