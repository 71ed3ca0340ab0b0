#!/usr/bin/env node
// bench/gc: a repository holding 10,000 user tarballs that share a base (51 library files in
// every one, 4 files of its own), built in-process through the UploadService as `barge serve`
// takes them, then 1,000 of them idle past their expiry and `barge gc` run (collectGarbage: the
// retention revision that removes them, then the sweep). Goals (issue 5): gc under 10 s for the
// 1,000 (A); the same garbage in a repository twice as big changes that time by under 20% (B,
// 20,000 held); twice the garbage roughly doubles it (C, 2,000 expire; ratio 1.5-2.5). The
// reference, timed in the same run (style point 13): gc by mark-and-sweep over the tree (every
// catalog of the kept revision walked, the store listed, the rest deleted), which must delete
// exactly the keys the ledger's gc deleted. Building is slow (see BENCHMARKS.md): with --keep the
// built repositories are kept and the next run with the same sizes reuses them.
// Exits 0 whether goals are met or not (PASS/MISS are printed); non-zero only when a step fails.
//
//   npm run bench:gc -- [--uploads 10000] [--expire 1000] [--groups 10] [--runs 3] [--no-walk]
//     [--concurrency 256] [--gather-ms 250] [--cpu-prof DIR] [--cache .bench] [--keep]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { markFreed, waitForFreedInodes } from './freed-inodes.mjs';
import { runMeasured } from './run-measured.mjs';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    uploads: { type: 'string', default: '10000' },
    expire: { type: 'string', default: '1000' },
    groups: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '256' },
    'gather-ms': { type: 'string', default: '250' },
    'no-walk': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    cache: { type: 'string', default: path.join(repo, '.bench') },
    keep: { type: 'boolean', default: false },
    step: { type: 'string' },
    job: { type: 'string' },
    out: { type: 'string' },
  },
});
const held = Math.max(10, Number(opts.uploads));
const expire = Math.max(1, Math.min(Number(opts.expire), Math.floor(held / 4)));
const groupCount = Math.max(1, Number(opts.groups));
const runs = Math.max(1, Number(opts.runs));
const concurrency = Math.max(1, Number(opts.concurrency));
const gatherMs = Math.max(0, Number(opts['gather-ms']));
const work = path.join(path.resolve(opts.cache), 'gc');
const freedStamp = path.join(work, 'freed-at');
const barge = path.join(repo, 'bin', 'barge.js');
const FQRN = 'gc.bench.barge.test';
const DAY = 86400;
const EXPIRY_DAYS = 30;
const MB = 1e6;
const GOALS = { seconds: 10, sizeChange: 0.2, garbageRatio: [1.5, 2.5] };
const BASE_FILES = 50;
const RETENTION = { revisions: 1, days: 0 };
const STORE_KEY = /^data\/[0-9a-f]{2}\//;
const CACHE_VERSION = 1;

const log = (s) => process.stderr.write(`${s}\n`);
const seconds = (t0) => (performance.now() - t0) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const fmt = (n) => n.toLocaleString('en-US');

if (!fs.existsSync(path.join(repo, 'dist', 'gc', 'gc.js'))) {
  log('dist/ is missing: run `npm run build` first (npm run bench:gc does).');
  process.exit(2);
}
const dist = (p) => import(path.join(repo, 'dist', p));
const { buildTar } = await dist('testing/tar-builder.js');
const { SeededRandom } = await dist('testing/seeded-random.js');
const { expireUploads, UploadService } = await dist('usercode/upload-service.js');
const { CommitQueue } = await dist('usercode/commit-queue.js');
const { UploadsDb } = await dist('usercode/uploads-db.js');
const { parseUploadId } = await dist('usercode/upload-id.js');
const { collectGarbage } = await dist('gc/gc.js');
const { Ledger } = await dist('publish/index.js');
const { Catalog } = await dist('catalog/index.js');
const { decompress, objectPath } = await dist('object/index.js');
const { FsObjectStore } = await dist('storage/index.js');

if (opts.step) {
  // Written synchronously: a pipe would lose the end of a large answer at process.exit.
  fs.writeFileSync(opts.out, JSON.stringify(await runStep(opts.step, JSON.parse(opts.job ?? '{}'))));
  process.exit(0);
}

// 1. The shared base of every tarball: 50 Python modules and one shared library, compressed once.
// A tarball is that gzip member followed by one of its own files (gzip allows several members).
const content = contentMaker();
const baseMembers = Array.from({ length: BASE_FILES }, (_, i) => ({
  name: `lib/python3.11/site-packages/anatools/mod_${String(i).padStart(2, '0')}.py`,
  content: content.text(
    new SeededRandom('base', `py${i}`),
    1500 + new SeededRandom('size', `${i}`).int(10_000),
  ),
  mtime: 1_700_000_000,
}));
const so = new SeededRandom('base', 'so');
baseMembers.push({
  name: 'lib/libanatools.so',
  content: Buffer.concat([so.bytes(60_000), Buffer.alloc(60_000), so.bytes(30_000)]),
  mode: 0o755,
  mtime: 1_700_000_000,
});
const baseTar = buildTar(baseMembers, { end: false });
const baseGz = zlib.gzipSync(baseTar);

// 2. The repositories, built once and cached while --keep is given: `held` uploads (A and C run
// on copies of it) and the same plus `held` more (B). Each is cleaned of its building garbage (a
// gc that expires nothing) before it is cached, so a measured gc finds only its own garbage.
fs.mkdirSync(work, { recursive: true });
const cacheFile = path.join(work, 'repos.json');
const repoDirs = [path.join(work, `repo-${held}`), path.join(work, `repo-${2 * held}`)];
const runDir = path.join(work, 'run');
const walkDir = path.join(work, 'walk');
let cache = readJson(cacheFile);
const reusable =
  cache?.version === CACHE_VERSION &&
  cache.held === held &&
  cache.expire === expire &&
  cache.groups === groupCount &&
  repoDirs.every((d) => fs.existsSync(d));
const keepNames = new Set([
  path.basename(freedStamp),
  ...(reusable ? [cacheFile, ...repoDirs] : []).map((d) => path.basename(d)),
]);
const leftovers = fs.readdirSync(work).filter((n) => !keepNames.has(n));
if (leftovers.length > 0) {
  log('removing the data dirs of an earlier run');
  for (const n of leftovers) fs.rmSync(path.join(work, n), { recursive: true, force: true });
  markFreed(freedStamp);
}
await waitForFreedInodes(work, freedStamp, log);
const loadBefore = os.loadavg();
const started = performance.now();
if (reusable) log(`reusing the repositories of ${new Date(cache.t0 * 1000).toISOString()} in ${work}`);
else cache = await buildRepositories();

// The clock of the uploads, in unix seconds. Upload i was published (and last used) at OLD when
// i < expire, at MID when i < 2 × expire, else at NEW; gc at AT_A sees only the OLD ones idle
// past the 30 days, gc at AT_C the OLD and MID ones. Revision timestamps are the real time, before
// every gc clock: with days 0 no revision is kept for being young.
const { AT_A, AT_C } = clocks(cache.t0);

// 3. The scenarios, each on copies of its repository.
const results = {};
results.A = await scenario('A', repoDirs[0], held, AT_A);
results.C = await scenario('C', repoDirs[0], held, AT_C);
results.B = await scenario('B', repoDirs[1], 2 * held, AT_A);
const loadAfter = os.loadavg();
const totalS = seconds(started);
if (!opts.keep) {
  for (const n of fs.readdirSync(work)) {
    if (n !== path.basename(freedStamp)) fs.rmSync(path.join(work, n), { recursive: true, force: true });
  }
  markFreed(freedStamp);
}

// 4. Report.
report();

function clocks(t0) {
  const c = { OLD: t0, MID: t0 + 10 * DAY, NEW: t0 + 20 * DAY, AT_A: t0 + 35 * DAY, AT_C: t0 + 45 * DAY };
  return { ...c, PRE_GC: c.NEW + DAY };
}

/** Builds both repositories; returns what the cache file records. */
async function buildRepositories() {
  const t0 = Math.floor(Date.now() / 1000);
  const [small, large] = repoDirs;
  await runMeasured([process.execPath, barge, 'init', FQRN, '--data', small]);
  const enable = ['uploads', 'enable', FQRN, '--expiry-days', String(EXPIRY_DAYS), '--data', small];
  await runMeasured([process.execPath, barge, ...enable]);
  const builds = [];
  builds.push(await build(small, 0, held, t0));
  builds[0].cleanUp = await cleanUp(small, t0);
  const copyS = copyTree(small, large);
  log(`  copied in ${copyS.toFixed(1)} s`);
  builds.push(await build(large, held, 2 * held, t0));
  builds[1].cleanUp = await cleanUp(large, t0);
  const record = {
    version: CACHE_VERSION,
    held,
    expire,
    groups: groupCount,
    t0,
    commit: gitDescribe(),
    builds,
  };
  fs.writeFileSync(cacheFile, `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** The gc that clears a repository's building garbage (nothing is idle yet at PRE_GC). */
async function cleanUp(data, t0) {
  const pre = await step('gc', { data, now: clocks(t0).PRE_GC });
  const r = pre.report;
  if (r.uploadsExpired.length > 0) throw new Error('the clean-up gc expired uploads');
  log(
    `  clean-up gc (building garbage): ${pre.seconds.toFixed(1)} s, ${r.revisionsDropped.length} revisions, ` +
      `${fmt(r.catalogsDeleted)} catalogs, ${fmt(r.objectsDeleted)} objects`,
  );
  return {
    seconds: pre.seconds,
    revisions: r.revisionsDropped.length,
    catalogs: r.catalogsDeleted,
    objects: r.objectsDeleted,
  };
}

/** Publishes uploads [from, to) into `data` through an UploadService, many in flight. */
async function build(data, from, to, t0) {
  const c = clocks(t0);
  const clockOf = (i) => (i < expire ? c.OLD : i < 2 * expire ? c.MID : c.NEW);
  const profile = await startProfile(5000);
  const began = performance.now();
  const cpu0 = cpuNow();
  let clock = clockOf(from);
  const service = await UploadService.open({ dataDir: data, now: () => clock, gatherMs });
  const queue = service.queue(FQRN);
  const revisions0 = queue.stats.revisions;
  let tarballBytes = 0;
  let rssMb = 0;
  const rssPoll = setInterval(() => (rssMb = Math.max(rssMb, process.memoryUsage().rss / 2 ** 20)), 1000);
  try {
    // One clock phase at a time: every upload of a phase is published before the clock moves.
    const phases = [expire, 2 * expire, to].map((end) => Math.min(Math.max(end, from), to));
    let next = from;
    let lastLog = performance.now();
    for (const end of phases) {
      clock = clockOf(next);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < end) {
            const i = next++;
            const body = tarball(i);
            tarballBytes += body.length;
            const cid = `ana${String(i % groupCount).padStart(2, '0')}/${sha256(body)}`;
            const r = await service.publish(parseUploadId(cid), [body], 'bench');
            if (r.status !== 'published') throw new Error(`${cid}: ${r.status}`);
            if (performance.now() - lastLog > 15_000) {
              lastLog = performance.now();
              log(
                `  ${fmt(next - from)} / ${fmt(to - from)} uploads, ${((next - from) / seconds(began)).toFixed(1)}/s`,
              );
            }
          }
        }),
      );
    }
  } finally {
    clearInterval(rssPoll);
    await service.close();
  }
  const s = seconds(began);
  const other = otherCores(cpu0, cpuNow());
  await profile.stop(`build-${from}`);
  const revisions = queue.stats.revisions - revisions0;
  log(
    `built uploads ${fmt(from)}-${fmt(to - 1)} in ${s.toFixed(1)} s (${((to - from) / s).toFixed(1)}/s, ${revisions} revisions)`,
  );
  return { count: to - from, seconds: s, revisions, tarballBytes, other, rssMb };
}

/**
 * One scenario: rounds of `barge gc` (collectGarbage at the scenario's clock: the retention
 * revision that removes the idle uploads, then the sweep) on fresh copies of its repository, each
 * in a child process of its own (as cron runs gc; the builder's heap would slow its forks and GC).
 * Medians of the rounds are reported. The first round also takes a second copy, on which the
 * expiry revision runs alone (what collectGarbage's first step runs: the split of the time) and
 * then the tree walk, whose deletions must be the gc's.
 */
async function scenario(name, repository, count, now) {
  log(`scenario ${name}: ${fmt(count)} held, gc at day ${(now - cache.t0) / DAY} ...`);
  const store = storeCounts(path.join(repository, 'repos', FQRN));
  const rounds = [];
  for (let k = 0; k < runs; k++) {
    log(`  round ${k + 1}/${runs}`);
    copyTree(repository, runDir);
    const served = path.join(runDir, 'repos', FQRN);
    const before = k === 0 ? await listKeys(served) : [];
    const gc = await step('gc', { data: runDir, now }, `${name}${k + 1}-gc`);
    const r = gc.report;
    log(
      `  gc: ${gc.seconds.toFixed(2)} s, ${r.uploadsExpired.length} uploads expired, ${fmt(r.catalogsDeleted)} ` +
        `catalogs, ${fmt(r.objectsDeleted)} objects, ${(r.bytesFreed / MB).toFixed(1)} MB`,
    );
    if (k === 0) {
      const after = new Set(await listKeys(served));
      gc.deleted = before.filter((key) => !after.has(key));
    }
    fs.rmSync(runDir, { recursive: true, force: true });
    rounds.push(gc);
  }
  const split = await expiryAndWalk(name, repository, now, rounds[0]);
  return {
    name,
    count,
    store,
    rounds,
    ...split,
    gc: rounds[0],
    seconds: median(rounds.map((g) => g.seconds)),
  };
}

/**
 * On a copy of `repository`: the expiry revision alone, then (unless --no-walk) the tree walk over
 * the revision it made, compared with the deletions of the gc of round 1.
 */
async function expiryAndWalk(name, repository, now, gc) {
  copyTree(repository, walkDir);
  const expiry = await step('expire', { data: walkDir, now }, `${name}-expiry`);
  log(`  expiry revision alone: ${expiry.seconds.toFixed(2)} s (${expiry.removed} uploads)`);
  let walk;
  if (!opts['no-walk']) {
    // What gc keeps after its retention revision: that revision (the newest 1, no tag but trunk).
    const ledger = Ledger.open(path.join(walkDir, 'state', FQRN));
    let head;
    try {
      head = ledger.head();
    } finally {
      ledger.close();
    }
    const job = {
      served: path.join(walkDir, 'repos', FQRN),
      roots: [head.root],
      meta: [head.history, head.certificate],
    };
    walk = await step('walk', job, `${name}-walk`);
    const byWalk = new Set(walk.deleted);
    const byLedger = new Set(gc.deleted);
    walk.onlyLedger = gc.deleted.filter((k) => !byWalk.has(k));
    walk.onlyWalk = walk.deleted.filter((k) => !byLedger.has(k));
    walk.same = walk.onlyLedger.length === 0 && walk.onlyWalk.length === 0;
    log(
      `  tree walk: ${walk.seconds.toFixed(2)} s; same deletion set: ` +
        (walk.same
          ? 'yes'
          : `NO (${walk.onlyLedger.length} only by the ledger, ${walk.onlyWalk.length} only by the walk)`),
    );
  }
  fs.rmSync(walkDir, { recursive: true, force: true });
  return { expiry, walk };
}

/**
 * Runs one measured step in a child process (this file with --step); resolves its JSON answer
 * with the child's wall time, CPU, peak RSS and the other load. With --cpu-prof, profiled.
 */
async function step(name, job, profileAs) {
  const prof =
    opts['cpu-prof'] && profileAs
      ? ['--cpu-prof', '--cpu-prof-dir', opts['cpu-prof'], '--cpu-prof-name', `gc-${profileAs}.cpuprofile`]
      : [];
  // Whatever this bench wrote (copies, uploads) is flushed first: the steps' syncfs must not pay for it.
  execFileSync('sync', ['-f', job.data ?? job.served]);
  const outFile = path.join(work, `step-${process.pid}.json`);
  const m = await runMeasured([
    process.execPath,
    ...prof,
    fileURLToPath(import.meta.url),
    '--step',
    name,
    '--job',
    JSON.stringify(job),
    '--out',
    outFile,
  ]);
  const out = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  fs.rmSync(outFile);
  return { ...out, wall: m.seconds, cpu: m.cpuSeconds, rssMb: m.peakRssMb, other: m.otherCores };
}

/** The child side of step(): one step, timed from after the imports; JSON on stdout. */
async function runStep(name, job) {
  const t0 = performance.now();
  if (name === 'expire') {
    // collectGarbage's first step, as gc.ts runs it.
    const db = new UploadsDb(path.join(job.data, 'state', FQRN));
    try {
      const queue = new CommitQueue({ dataDir: job.data, fqrn: FQRN, lockWaitMs: 120_000 });
      const { removed, result } = await expireUploads(queue, db, EXPIRY_DAYS, job.now);
      await queue.close();
      return { seconds: seconds(t0), removed: removed.length, revision: result?.revision };
    } finally {
      db.close();
    }
  }
  if (name === 'gc') {
    const report = await collectGarbage({
      dataDir: job.data,
      fqrn: FQRN,
      retention: RETENTION,
      now: job.now,
      dryRun: job.dryRun ?? false,
    });
    return { seconds: seconds(t0), report };
  }
  if (name === 'walk') return treeWalkGc(job.served, job.roots, job.meta);
  throw new Error(`no step ${name}`);
}

/**
 * The reference: gc by mark-and-sweep over the tree, as a gc without a ledger must work. Marks
 * every catalog of the kept revisions and every object they name (plus the kept revisions'
 * history and certificate objects), lists the store, deletes the rest. Catalogs are read 8 at a
 * time (reads and inflates overlap; opening and querying a catalog is main-thread work).
 */
async function treeWalkGc(served, roots, meta) {
  const store = new FsObjectStore(served);
  const t0 = performance.now();
  const reachable = new Set(meta);
  let level = [...new Set(roots.map((r) => objectPath(r, 'C')))];
  for (const k of level) reachable.add(k);
  let catalogs = 0;
  while (level.length > 0) {
    const next = [];
    await mapLimit(level, 8, async (key) => {
      const catalog = Catalog.open(await decompress(await store.get(key), key), '', key);
      catalogs++;
      try {
        for (const h of catalog.contentHashes()) reachable.add(objectPath(h.hash, h.suffix));
        for (const n of catalog.nestedCatalogs()) {
          const child = objectPath(n.hash, 'C');
          if (!reachable.has(child)) {
            reachable.add(child);
            next.push(child);
          }
        }
      } finally {
        catalog.close();
      }
    });
    level = next;
  }
  const markS = seconds(t0);
  let t1 = performance.now();
  const sizes = new Map();
  for await (const o of store.list('data/')) if (STORE_KEY.test(o.key)) sizes.set(o.key, o.size);
  const listS = seconds(t1);
  t1 = performance.now();
  const deleted = [...sizes.keys()].filter((k) => !reachable.has(k));
  await store.delete(deleted);
  const deleteS = seconds(t1);
  return {
    seconds: seconds(t0),
    markS,
    listS,
    deleteS,
    catalogs,
    reachable: reachable.size,
    listed: sizes.size,
    deleted,
    bytes: deleted.reduce((sum, k) => sum + (sizes.get(k) ?? 0), 0),
  };
}

/** Every object key under data/ of a served repository. */
async function listKeys(served) {
  const keys = [];
  for await (const o of new FsObjectStore(served).list('data/')) if (STORE_KEY.test(o.key)) keys.push(o.key);
  return keys;
}

/** Upload i: the base member, then a gzip member with its own 4 files (~60 KB). */
function tarball(i) {
  const r = new SeededRandom('upload', String(i));
  const own = buildTar([
    {
      name: 'run.sh',
      content: `#!/bin/sh\n# job ${i}\nexport PYTHONPATH=$PWD/lib/python3.11/site-packages\nexec python3 -m anatools.run --config config/job.json "$@"\n`,
      mode: 0o755,
      mtime: 1_700_000_000,
    },
    {
      name: 'config/job.json',
      content: JSON.stringify({
        job: i,
        dataset: `/mc/run${i % 97}/sample${i}`,
        cuts: content.words(r, 200),
      }),
      mtime: 1_700_000_000,
    },
    { name: `macros/ana_${i}.C`, content: content.text(r, 4000 + r.int(10_000)), mtime: 1_700_000_000 },
    { name: 'data/calib.bin', content: r.bytes(20_000 + r.int(40_000)), mtime: 1_700_000_000 },
  ]);
  // Level 1: this bench's client must not take the cores from the server (level 6 cost 4 ms here).
  return Buffer.concat([baseGz, zlib.gzipSync(own, { level: 1 })]);
}

/** Source-like text: words picked by the seeded stream, ~4x compressible as code is. */
function contentMaker() {
  const stems =
    'event jet muon track vertex energy pt eta phi charge weight hist cut sel reco truth calib lumi run trigger'.split(
      ' ',
    );
  const vocab = [];
  for (let i = 0; vocab.length < 256; i++) {
    const s = stems[i % stems.length];
    vocab.push(
      [
        s,
        `${s}_${i}`,
        `self.${s}`,
        `def ${s}${i}(`,
        `${i * 7}`,
        `return ${s}`,
        'import',
        '=',
        '+',
        'if',
        '\n    ',
      ][i % 11],
    );
  }
  const words = (r, n) => {
    const b = r.bytes(n);
    const out = new Array(n);
    for (let k = 0; k < n; k++) out[k] = vocab[b[k]];
    return out.join(' ');
  };
  return { words, text: (r, size) => words(r, Math.ceil(size / 4)).slice(0, size) };
}

/** Copies a directory tree (cp -a); returns the seconds it took. */
function copyTree(from, to) {
  const t0 = performance.now();
  execFileSync('cp', ['-a', '--reflink=auto', from, to]);
  return seconds(t0);
}

/** Objects, catalogs and bytes under data/ of a served repository. */
function storeCounts(served) {
  let objects = 0;
  let catalogs = 0;
  let bytes = 0;
  const data = path.join(served, 'data');
  for (const d of fs.readdirSync(data)) {
    if (!/^[0-9a-f]{2}$/.test(d)) continue;
    for (const f of fs.readdirSync(path.join(data, d))) {
      bytes += fs.statSync(path.join(data, d, f)).size;
      if (f.endsWith('C')) catalogs++;
      else objects++;
    }
  }
  return { objects, catalogs, bytes };
}

async function mapLimit(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** A CPU profile of the next measured step when --cpu-prof DIR is given (node:inspector). */
async function startProfile(intervalUs = 1000) {
  if (!opts['cpu-prof']) return { stop: async () => {} };
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return {
    stop: async (label) => {
      const { profile } = await session.post('Profiler.stop');
      fs.mkdirSync(opts['cpu-prof'], { recursive: true });
      const file = path.join(opts['cpu-prof'], `gc-${label}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      log(`  profile: ${file}`);
    },
  };
}

function sha256(b) {
  return createHash('sha256').update(b).digest('hex');
}

/** Busy CPU seconds of the machine and of this process (all its threads). */
function cpuNow() {
  const own = process.cpuUsage();
  return { busy: busyCpuSeconds(), own: (own.user + own.system) / 1e6, at: performance.now() };
}

/** Cores other processes used between two cpuNow() snapshots. */
function otherCores(a, b) {
  const wall = (b.at - a.at) / 1000;
  return wall > 0 ? Math.max(0, (b.busy - a.busy - (b.own - a.own)) / wall) : 0;
}

/** Seconds all CPUs spent busy since boot (/proc/stat: everything but idle and iowait). */
function busyCpuSeconds() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return 0;
  }
}

function report() {
  const { A, B, C } = results;
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const mb = (b) => `${(b / MB).toFixed(1)} MB`;
  const list = (xs) => xs.map((x) => x.toFixed(2)).join(' / ');
  const child = (x) =>
    `child ${x.wall.toFixed(2)} s wall, ${x.cpu?.toFixed(2) ?? '-'} CPU-s, ${x.rssMb.toFixed(0)} MB RSS`;
  const builds = cache.builds;
  const avgTarball =
    builds.reduce((sum, b) => sum + b.tarballBytes, 0) / builds.reduce((n, b) => n + b.count, 0);
  const others = [A, B, C].flatMap((s) => s.rounds.map((g) => g.other)).filter((x) => x !== null);
  const rows = [
    ['date', new Date().toISOString().replace(/\.\d+Z$/, 'Z')],
    ['machine', machine()],
    ['load average', `${load(loadBefore)} before, ${load(loadAfter)} after (1/5/15 min)`],
    ['barge', gitDescribe()],
    [
      'uploads',
      `${groupCount} groups; each tarball: ${BASE_FILES + 1} shared files (${(baseTar.length / 1e3).toFixed(0)} KB, ` +
        `${(baseGz.length / 1e3).toFixed(0)} KB gzip) + 4 of its own (~50 KB); ${(avgTarball / 1e3).toFixed(0)} KB ` +
        'gzip on average',
    ],
    ...builds.flatMap((b, k) => [
      [
        k === 0 ? 'build (UploadService)' : '',
        `${fmt(k * held)} → ${fmt((k + 1) * held)} uploads in ${b.seconds.toFixed(0)} s ` +
          `(${(b.count / b.seconds).toFixed(1)} uploads/s, ${b.revisions} revisions; RSS up to ` +
          `${b.rssMb?.toFixed(0) ?? '?'} MB; other load ${b.other?.toFixed(2) ?? '?'} cores)`,
      ],
      [
        '',
        `  then a gc of the building garbage: ${b.cleanUp.seconds.toFixed(1)} s, ${b.cleanUp.revisions} revisions, ` +
          `${fmt(b.cleanUp.catalogs)} catalogs, ${fmt(b.cleanUp.objects)} objects`,
      ],
    ]),
    ...(reusable
      ? [['', `(reused: built ${new Date(cache.t0 * 1000).toISOString()} at ${cache.commit})`]]
      : []),
  ];
  for (const s of [A, B, C]) {
    const r = s.gc.report;
    rows.push(
      [
        `${s.name}: ${fmt(s.count)} held`,
        `store ${fmt(s.store.catalogs)} catalogs, ${fmt(s.store.objects)} other objects, ${mb(s.store.bytes)}`,
      ],
      [
        '  barge gc',
        `${s.seconds.toFixed(2)} s  goal < ${GOALS.seconds} s  ${verdict(s.seconds < GOALS.seconds)}  ` +
          `(${list(s.rounds.map((g) => g.seconds))}; ${child(s.gc)})`,
      ],
      [
        '    removed',
        `${fmt(r.uploadsExpired.length)} uploads expired in revision ${r.retentionRevision}, ` +
          `${r.revisionsDropped.length} revisions dropped; deleted ${fmt(r.catalogsDeleted)} catalogs, ` +
          `${fmt(r.objectsDeleted)} objects, ${mb(r.bytesFreed)}`,
      ],
      [
        '    expiry revision',
        `${s.expiry.seconds.toFixed(2)} s alone (${fmt(s.expiry.removed)} uploads; the rest of gc is the sweep)`,
      ],
    );
    if (r.catalogsDeleted < r.uploadsExpired.length) {
      rows.push(['    WARNING', 'fewer catalogs deleted than uploads expired: expired content was kept']);
    }
    if (s.walk) {
      const w = s.walk;
      rows.push(
        [
          '  tree walk (reference)',
          `${w.seconds.toFixed(2)} s  (mark ${w.markS.toFixed(2)} s over ${fmt(w.catalogs)} catalogs, ` +
            `list ${w.listS.toFixed(2)} s of ${fmt(w.listed)} keys, delete ${w.deleteS.toFixed(2)} s of ` +
            `${fmt(w.deleted.length)}; ${child(w)})`,
        ],
        [
          '    gc sweep ÷ walk',
          `${((s.seconds - s.expiry.seconds) / w.seconds).toFixed(3)}; same deletion set: ` +
            (w.same
              ? `yes (${fmt(w.deleted.length)} keys, ${mb(w.bytes)})`
              : `NO: ${w.onlyLedger.length} only by the ledger (${w.onlyLedger.slice(0, 3).join(' ')}), ` +
                `${w.onlyWalk.length} only by the walk (${w.onlyWalk.slice(0, 3).join(' ')})`),
        ],
      );
    }
  }
  const split = (x, y) =>
    `expiry ${(x.expiry.seconds / y.expiry.seconds).toFixed(2)}, ` +
    `sweep ${((x.seconds - x.expiry.seconds) / (y.seconds - y.expiry.seconds)).toFixed(2)}`;
  const bToA = B.seconds / A.seconds;
  const cToA = C.seconds / A.seconds;
  const [lo, hi] = GOALS.garbageRatio;
  rows.push(
    [
      'B ÷ A (repository × 2)',
      `${bToA.toFixed(3)}  goal within 1 ± ${GOALS.sizeChange}  ${verdict(Math.abs(bToA - 1) < GOALS.sizeChange)}  ` +
        `(${split(B, A)})`,
    ],
    [
      'C ÷ A (garbage × 2)',
      `${cToA.toFixed(3)}  goal ${lo}-${hi}  ${verdict(cToA >= lo && cToA <= hi)}  (${split(C, A)})`,
    ],
  );
  if (A.walk && B.walk && C.walk) {
    rows.push([
      'tree walk B ÷ A, C ÷ A',
      `${(B.walk.seconds / A.walk.seconds).toFixed(3)}, ${(C.walk.seconds / A.walk.seconds).toFixed(3)}  ` +
        '(information: a walk follows the repository, not the garbage)',
    ]);
  }
  if (others.length > 0) {
    rows.push([
      'other load',
      `${median(others).toFixed(2)} cores median, ${Math.max(...others).toFixed(2)} max, used by other processes ` +
        `during the measured gc runs (of ${os.availableParallelism()})`,
    ]);
  }
  rows.push([
    'bench wall time',
    `${(totalS / 60).toFixed(1)} min${reusable ? ' (repositories reused)' : ''}`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log('bench/gc');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
  const mem = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${os.availableParallelism()} cores (nproc), ${cpu}, ${mem} GiB RAM, node ${process.version}, Linux ${os.release()}`;
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
