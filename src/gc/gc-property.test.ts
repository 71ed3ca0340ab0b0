import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { S_IFMT, S_IFREG } from '../catalog/index.js';
import { Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { parseUploadId } from '../usercode/upload-id.js';
import { UploadService } from '../usercode/upload-service.js';
import {
  assertKeptWhole,
  assertNoGarbage,
  checkConformanceLater,
  gcCommandInProcess,
  initTestRepo,
  manifestFields,
  type TestRepo,
} from './gc-test-support.js';

const FQRN = 'gcprop.example.org';
/** Seeds and steps per seed; CI runs the defaults (BARGE_GC_SEEDS=1,2,3,4 BARGE_GC_STEPS=80 for a long soak). */
const SEEDS = (process.env.BARGE_GC_SEEDS ?? '1,2,3').split(',');
const STEPS = Number(process.env.BARGE_GC_STEPS ?? 28);
const DAY = 86400;
/** Uploads expire after this many idle days (the default of `barge uploads enable`). */
const EXPIRY_DAYS = 30;

/** Regular files of a tree, by path (catalog markers left out: their placement is barge's). */
type Files = Map<string, Buffer>;

interface Upload {
  cid: string;
  path: string;
  tarball: Buffer;
  files: Files;
  lastUsed: number;
  pinned: boolean;
}

/**
 * A model of the repository driven by a seeded random sequence: publishes of changing trees under
 * /sw (at /sw, /sw/a or /sw/b, files added, changed and removed, nested catalogs appearing and
 * disappearing, one pool of contents shared between paths and with uploads), uploads through the
 * upload service with a movable clock (published, used again, pinned, left to expire), tags added
 * and removed, and gc with random retention. It remembers the files of every root it saw, so that
 * each kept revision can be read back and compared.
 */
class Scenario {
  readonly rnd: SeededRandom;
  readonly pool: Buffer[];
  /** The files under /sw as the model has them. */
  readonly sw: Files = new Map();
  readonly markers = new Set<string>();
  readonly uploads = new Map<string, Upload>();
  readonly tags = new Map<string, string>();
  /** Revisions published and not dropped by a gc yet. */
  alive = new Set<number>();
  /** Files (under /sw and of uploads) of every root catalog seen, by root hash. */
  readonly snapshots = new Map<string, Files>();
  readonly stats = { publishes: 0, uploads: 0, gcs: 0, expired: 0, dropped: 0, deleted: 0, tags: 0 };
  /** Conformance checks running on copies of the served files, awaited at the end. */
  readonly conformance: Promise<void>[] = [];
  clock = 0;
  private nextTag = 0;
  private sources = 0;

  constructor(
    readonly seed: string,
    readonly repo: TestRepo,
    readonly service: UploadService,
    readonly tmp: string,
  ) {
    this.rnd = new SeededRandom(seed, 'ops');
    // Mostly small contents, a few chunked ones (chunks are 16-64 KiB in test repositories).
    this.pool = Array.from({ length: 24 }, (_, i) => {
      const r = new SeededRandom(seed, `content-${i}`);
      return r.bytes(i % 8 === 7 ? 40_000 + r.int(80_000) : 1 + r.int(3000));
    });
  }

  /** Unix seconds `days` ago, avoiding the expiry boundary so that a slow run cannot flip a case. */
  private daysAgo(days: number): number {
    return Math.floor(Date.now() / 1000) - days * DAY;
  }

  snapshot(): void {
    this.alive.add(Number(manifestFields(this.repo.served).get('S')));
    const files: Files = new Map(this.sw);
    for (const u of this.uploads.values()) for (const [p, b] of u.files) files.set(`${u.path}/${p}`, b);
    this.snapshots.set(manifestFields(this.repo.served).get('C') as string, files);
  }

  async step(): Promise<void> {
    const op = this.rnd.int(100);
    if (op < 38) await this.publish();
    else if (op < 58) await this.upload();
    else if (op < 66) await this.useOrPin();
    else if (op < 76) await this.tag();
    else await this.gc();
  }

  /** Random edits of one area, published with `--at` that area. */
  async publish(): Promise<void> {
    const at = this.rnd.pick(['/sw', '/sw/a', '/sw/b', '/sw/b']);
    const names = ['x', 'y', 'z', 'deep/p', 'deep/q', 'n1/f', 'n1/g', 'n1/n2/h', 'n1/n2/i', 'n1/n2/j'];
    const areas = at === '/sw' ? ['/sw/a', '/sw/b', '/sw'] : [at];
    for (let i = 1 + this.rnd.int(6); i > 0; i--) {
      const file = `${this.rnd.pick(areas)}/${this.rnd.pick(names)}`;
      if (this.sw.has(file) && this.rnd.int(3) === 0) this.sw.delete(file);
      else this.sw.set(file, this.rnd.pick(this.pool));
    }
    // Nested catalogs come and go with their markers.
    for (const dir of ['/sw/b/n1', '/sw/b/n1/n2', '/sw/a/deep']) {
      if (dir.startsWith(at) && this.rnd.int(4) === 0) {
        if (this.markers.has(dir)) this.markers.delete(dir);
        else this.markers.add(dir);
      }
    }
    const src = path.join(this.tmp, `src-${this.sources++}`);
    mkdirSync(src);
    for (const [p, b] of this.sw) {
      if (!p.startsWith(`${at}/`)) continue;
      const abs = path.join(src, p.slice(at.length));
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, b);
    }
    for (const dir of this.markers) {
      const inside = dir.slice(at.length);
      const hasFiles = [...this.sw.keys()].some((p) => p.startsWith(`${dir}/`));
      if (dir.startsWith(`${at}/`) && hasFiles) writeFileSync(path.join(src, inside, '.cvmfscatalog'), '');
    }
    const publisher = await Publisher.open(this.repo.data, FQRN);
    try {
      await publisher.publishDirectory(src, at);
    } finally {
      await publisher.close();
    }
    this.stats.publishes++;
    this.snapshot();
  }

  /** A tarball of a few files, some sharing contents with /sw and with other uploads. */
  async upload(): Promise<void> {
    const old = [...this.uploads.values()];
    if (old.length > 0 && this.rnd.int(5) === 0) {
      // The same tarball again: present, its clock refreshed.
      const u = this.rnd.pick(old);
      this.clock = this.daysAgo(this.rnd.pick([0, 5, 40]));
      const r = await this.service.publish(parseUploadId(u.cid), body(u.tarball), 'test');
      assert.equal(r.status, 'present');
      u.lastUsed = Math.max(u.lastUsed, this.clock);
      return;
    }
    const files: Files = new Map();
    for (let i = 1 + this.rnd.int(4); i > 0; i--) {
      const content =
        this.rnd.int(3) === 0 ? this.rnd.bytes(1 + this.rnd.int(500)) : this.rnd.pick(this.pool);
      files.set(this.rnd.pick(['run.sh', 'lib/a.so', 'lib/b.so', 'data/in.json', 'README']), content);
    }
    const dirs = new Set([...files.keys()].filter((p) => p.includes('/')).map((p) => p.split('/')[0]));
    const tarball = buildTar([
      ...[...dirs].map((d) => ({ name: `${d}/`, type: '5', mode: 0o755 })),
      ...[...files].map(([name, content]) => ({ name, mode: 0o644, content })),
    ]);
    const group = this.rnd.pick(['dune', 'cms']);
    const id = parseUploadId(`${group}/${createHash('sha256').update(tarball).digest('hex')}`);
    if (this.uploads.has(id.cid)) return;
    // Days since last use: some fresh, some long idle (expired at the next gc).
    this.clock = this.daysAgo(this.rnd.pick([0, 3, 10, 45, 60]));
    const r = await this.service.publish(id, body(tarball), 'test');
    assert.equal(r.status, 'published');
    this.uploads.set(id.cid, {
      cid: id.cid,
      path: `/user/${id.cid}`,
      tarball,
      files,
      lastUsed: this.clock,
      pinned: false,
    });
    this.stats.uploads++;
    this.snapshot();
  }

  /** A job uses an upload again (exists refreshes its clock), or an admin pins or unpins one. */
  async useOrPin(): Promise<void> {
    const all = [...this.uploads.values()];
    if (all.length === 0) return;
    const u = this.rnd.pick(all);
    const id = parseUploadId(u.cid);
    if (this.rnd.int(2) === 0) {
      this.clock = this.daysAgo(this.rnd.pick([0, 2, 50]));
      assert.equal(this.service.exists(id, true).present, true);
      u.lastUsed = Math.max(u.lastUsed, this.clock);
    } else {
      u.pinned = !u.pinned;
      this.service.setPinned(id, u.pinned);
    }
  }

  async tag(): Promise<void> {
    const publisher = await Publisher.open(this.repo.data, FQRN, 'tag');
    try {
      if (this.tags.size > 0 && this.rnd.int(2) === 0) {
        const name = this.rnd.pick([...this.tags.keys()]);
        await publisher.untag(name);
        this.tags.delete(name);
      } else {
        const name = `v${this.nextTag++}`;
        await publisher.tag(name);
        this.tags.set(name, publisher.manifest.rootHash);
        this.stats.tags++;
      }
    } finally {
      await publisher.close();
    }
  }

  /** gc with random retention, then every check. */
  async gc(): Promise<void> {
    const keep = 1 + this.rnd.int(3);
    const cutoff = Math.floor(Date.now() / 1000) - EXPIRY_DAYS * DAY;
    const expected = [...this.uploads.values()]
      .filter((u) => !u.pinned && u.lastUsed < cutoff)
      .map((u) => u.cid)
      .sort();
    const report = await gcCommandInProcess(this.repo, [
      '--keep-revisions',
      String(keep),
      '--keep-days',
      '0',
    ]);
    const label = `seed ${this.seed}, gc ${this.stats.gcs} (keep ${keep})`;
    this.stats.gcs++;
    assert.deepEqual([...report.uploadsExpired].sort(), expected, `${label}: uploads expired`);
    for (const cid of expected) this.uploads.delete(cid);
    this.stats.expired += expected.length;
    this.stats.dropped += report.revisionsDropped.length;
    this.stats.deleted += report.objectsDeleted + report.catalogsDeleted;
    if (report.retentionRevision !== undefined) this.snapshot();
    await this.check(report.kept, keep, label);
  }

  /** After a gc: retention as asked, every kept revision reads back as it was, nothing else stored. */
  async check(
    kept: { revision: number; root: string; why: string[] }[],
    keep: number,
    label: string,
  ): Promise<void> {
    const head = manifestFields(this.repo.served);
    const revisions = kept.map((k) => k.revision);
    assert.ok(revisions.includes(Number(head.get('S'))), `${label}: the current revision is kept`);
    for (const r of [...this.alive].sort((a, b) => b - a).slice(0, keep)) {
      assert.ok(revisions.includes(r), `${label}: revision ${r} is one of the newest ${keep}`);
    }
    this.alive = new Set(revisions);
    for (const [name, root] of this.tags) {
      const k = kept.find((x) => x.root === root);
      assert.ok(k?.why.includes(`tag ${name}`), `${label}: tag ${name} keeps its revision`);
    }
    for (const k of kept) assert.ok(k.why.length > 0, `${label}: revision ${k.revision} says why it is kept`);
    const roots = kept.map((k) => k.root);
    await assertKeptWhole(this.repo, roots, label);
    assertNoGarbage(this.repo, roots, label);
    this.conformance.push(
      checkConformanceLater(this.repo, path.join(this.tmp, `conformance-${this.stats.gcs}`), label),
    );
    // Each kept revision holds exactly the files it was published with.
    const reader = await RepositoryReader.open(await openSource(this.repo.served), {
      publicKeysPem: [readFileSync(this.repo.pub, 'utf8')],
    });
    try {
      for (const root of roots) {
        const expected = this.snapshots.get(root);
        if (!expected) continue; // the bootstrap revision of init
        const actual = await readFiles(reader.atRoot(root));
        assert.deepEqual(
          [...actual.keys()].sort(),
          [...expected.keys()].sort(),
          `${label}: files of revision ${root}`,
        );
        for (const [p, b] of expected) assert.ok(actual.get(p)?.equals(b), `${label}: ${p} in ${root}`);
      }
    } finally {
      await reader.close();
    }
  }
}

/** A request body of one chunk. */
async function* body(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** Regular files under /sw and /user of a revision, with their contents (markers left out). */
async function readFiles(reader: RepositoryReader): Promise<Files> {
  const out: Files = new Map();
  for (const top of ['/sw', '/user']) {
    if (!(await reader.lookup(top))) continue;
    for await (const d of reader.walk(top)) {
      if ((d.mode & S_IFMT) !== S_IFREG || d.name === '.cvmfscatalog') continue;
      const parts = d.hash
        ? [await reader.fetchObject(d.hash, '')]
        : await Promise.all(d.chunks.map((c) => reader.fetchObject(c.hash, 'P')));
      out.set(d.path, Buffer.concat(parts));
    }
  }
  return out;
}

describe('gc property: random publishes, uploads, expiries, tags and gc runs', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: after every gc, kept revisions read back whole and nothing unreachable remains`, async () => {
      const tmp = tempDir();
      const data = path.join(tmp.dir, 'data');
      const repo = initTestRepo(data, FQRN, { uploads: true });
      let scenario: Scenario | undefined;
      const service = await UploadService.open({
        dataDir: data,
        now: () => scenario?.clock ?? 0,
        gatherMs: 5,
      });
      try {
        scenario = new Scenario(seed, repo, service, mkdtempSync(path.join(tmp.dir, 'sources-')));
        await scenario.publish();
        for (let i = 0; i < STEPS; i++) await scenario.step();
        await scenario.gc();
        await Promise.all(scenario.conformance);
        const s = scenario.stats;
        assert.ok(s.gcs >= 3 && s.publishes >= 3, `seed ${seed} exercised too little: ${JSON.stringify(s)}`);
        console.log(`seed ${seed}: ${JSON.stringify(s)}`);
      } finally {
        await service.close();
        tmp.cleanup();
      }
    });
  }
});
