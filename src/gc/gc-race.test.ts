import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { S_IFMT, S_IFREG } from '../catalog/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { createRouter, startServer } from '../server/index.js';
import { BARGE_BIN } from '../testing/run-barge.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';
import { addUploadRoutes } from '../usercode/api-routes.js';
import { TokenStore } from '../usercode/token-store.js';
import { UploadService } from '../usercode/upload-service.js';
import { UploadsDb } from '../usercode/uploads-db.js';
import type { GcReport } from './gc.js';
import {
  assertKeptWhole,
  assertNoGarbage,
  assertRepoConformant,
  gcCommandInProcess,
  initTestRepo,
  keptRoots,
} from './gc-test-support.js';

const FQRN = 'gcrace.example.org';
/**
 * How long publishers and gc race. The issue asks for a minute; CI may shorten it
 * (BARGE_GC_RACE_SECONDS=20 already sees gc collect objects that uploads had reused).
 */
const SECONDS = Number(process.env.BARGE_GC_RACE_SECONDS ?? 60);
/** 8 publishers upload through the HTTP API, 2 run `barge publish`: 10 in all. */
const UPLOADERS = 8;
const CLI_PUBLISHERS = 2;

type Files = Map<string, Buffer>;

/** Runs the CLI without blocking the event loop. */
function barge(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BARGE_BIN, ...args],
      { maxBuffer: 64 << 20, timeout: 180_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Regular files under `top` in a revision (catalog markers left out). */
async function readFiles(reader: RepositoryReader, top: string): Promise<Files> {
  const out: Files = new Map();
  if (!(await reader.lookup(top))) return out;
  for await (const d of reader.walk(top)) {
    if ((d.mode & S_IFMT) !== S_IFREG || d.name === '.cvmfscatalog') continue;
    const parts = d.hash
      ? [await reader.fetchObject(d.hash, '')]
      : await Promise.all(d.chunks.map((c) => reader.fetchObject(c.hash, 'P')));
    out.set(d.path.slice(top.length + 1), Buffer.concat(parts));
  }
  return out;
}

describe('gc race: gc in a loop while 10 publishers write overlapping content', () => {
  it(`for ${SECONDS} s: acknowledged uploads and published trees stay whole, a final gc leaves no garbage`, async (t) => {
    const tmp = tempDir();
    const data = path.join(tmp.dir, 'data');
    const repo = initTestRepo(data, FQRN, { uploads: true });
    const tokens = new TokenStore(data);
    const token = tokens.create({ group: '*', scope: 'admin' }).token;
    // Every third upload is stamped 45 days old: the gc loop expires it, so uploads churn too.
    let stamps = 0;
    const now = () => Math.floor(Date.now() / 1000) - (stamps++ % 3 === 0 ? 45 * 86400 : 0);
    const service = await UploadService.open({ dataDir: data, gatherMs: 30, now });
    const server = await startServer(
      { dataDir: data, listen: '127.0.0.1:0' },
      addUploadRoutes(createRouter({ dataDir: data }), { service, tokens }),
    );
    // One pool of contents for everybody: uploads reuse what CLI publishers drop, and the other
    // way round, so that gc collects objects an upload staged before its commit.
    const pool = Array.from({ length: 40 }, (_, i) => {
      const r = new SeededRandom('race', `pool-${i}`);
      return r.bytes(i % 10 === 9 ? 40_000 + r.int(60_000) : 1 + r.int(4000));
    });
    const stats = { uploads: 0, expired: 0, collected: 0, publishes: 0, locked: 0, gcs: 0, deleted: 0 };
    const errors: string[] = [];
    const acked = new Map<string, Files>();
    const published = new Map<number, Files>();
    const deadline = Date.now() + SECONDS * 1000;

    const uploader = async (n: number) => {
      const rnd = new SeededRandom('race', `uploader-${n}`);
      for (let i = 0; Date.now() < deadline; i++) {
        const files: Files = new Map();
        for (let k = 2 + rnd.int(5); k > 0; k--) files.set(`f${rnd.int(8)}`, rnd.pick(pool));
        files.set('id', Buffer.from(`uploader ${n} upload ${i}\n`));
        const tarball = buildTar([...files].map(([name, content]) => ({ name, mode: 0o644, content })));
        const group = `g${rnd.int(3)}`;
        const digest = createHash('sha256').update(tarball).digest('hex');
        for (let attempt = 0; ; attempt++) {
          const r = await fetch(`${server.url}/api/v1/uploads/${group}/${digest}`, {
            method: 'PUT',
            headers: { Authorization: `Bearer ${token}` },
            body: tarball,
          });
          const text = await r.text();
          if (r.status === 200 || r.status === 201) {
            acked.set(`${group}/${digest}`, files);
            stats.uploads++;
            break;
          }
          // OBJECT_COLLECTED: gc deleted an object the upload reused before its commit; the whole
          // batch published nothing, and the client sends the tarball again.
          if (r.status === 503 && attempt < 20) {
            stats.collected++;
            await sleep(20 + rnd.int(100));
            continue;
          }
          errors.push(`upload ${group}/${digest}: ${r.status} ${text}`);
          break;
        }
      }
    };

    const cliPublisher = async (n: number) => {
      const rnd = new SeededRandom('race', `publisher-${n}`);
      const dir = path.join(tmp.dir, `tree-${n}`);
      for (let i = 0; Date.now() < deadline; i++) {
        // A new subset of the pool each time: what it drops becomes garbage once out of retention.
        const files: Files = new Map();
        for (let k = 3 + rnd.int(8); k > 0; k--) files.set(`d${rnd.int(3)}/f${rnd.int(10)}`, rnd.pick(pool));
        if (i % 3 === 0) files.set('d1/.cvmfscatalog', Buffer.alloc(0));
        rmSync(dir, { recursive: true, force: true });
        for (const [p, b] of files) {
          mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
          writeFileSync(path.join(dir, p), b);
        }
        files.delete('d1/.cvmfscatalog');
        for (;;) {
          const r = await barge(['publish', FQRN, dir, '--at', `/sw/p${n}`, '--data', data]);
          if (r.code === 0) {
            published.set(n, files);
            stats.publishes++;
            break;
          }
          if (/REPO_LOCKED/.test(r.stderr) && Date.now() < deadline + 60_000) {
            stats.locked++;
            await sleep(50 + rnd.int(200));
            continue;
          }
          errors.push(`publish /sw/p${n}: ${r.stderr}`);
          break;
        }
      }
    };

    const reports: GcReport[] = [];
    const gcLoop = async () => {
      while (Date.now() < deadline) {
        const r = await barge([
          'gc',
          FQRN,
          '--data',
          data,
          '--keep-revisions',
          '1',
          '--keep-days',
          '0',
          '--json',
        ]);
        if (r.code !== 0) errors.push(`gc: ${r.stderr}`);
        else {
          const report = JSON.parse(r.stdout) as GcReport;
          reports.push(report);
          stats.gcs++;
          stats.deleted += report.objectsDeleted + report.catalogsDeleted;
        }
      }
    };

    try {
      await Promise.all([
        ...Array.from({ length: UPLOADERS }, (_, n) => uploader(n)),
        ...Array.from({ length: CLI_PUBLISHERS }, (_, n) => cliPublisher(n)),
        gcLoop(),
      ]);
    } finally {
      await server.close();
      await service.close();
      tokens.close();
    }
    assert.deepEqual(errors, [], 'no publish, upload or gc failed but for OBJECT_COLLECTED retries');
    assert.ok(
      stats.gcs >= 2 && stats.uploads >= UPLOADERS && stats.publishes >= CLI_PUBLISHERS,
      JSON.stringify(stats),
    );
    assert.ok(stats.deleted > 0, 'gc collected something while publishers ran');

    // Every acknowledged upload that has not expired since, and the last tree of every CLI
    // publisher, are in the current revision; expired ones are gone from it.
    const uploads = new UploadsDb(repo.state);
    const live = new Set(uploads.all().map((u) => u.cid));
    uploads.close();
    const reader = await RepositoryReader.open(await openSource(repo.served), {
      publicKeysPem: [readFileSync(repo.pub, 'utf8')],
    });
    try {
      for (const [cid, files] of acked) {
        const actual = await readFiles(reader, `/user/${cid}`);
        if (!live.has(cid)) {
          assert.equal(actual.size, 0, `expired upload ${cid} left the tree`);
          stats.expired++;
          continue;
        }
        assert.deepEqual([...actual.keys()].sort(), [...files.keys()].sort(), `upload ${cid}`);
        for (const [p, b] of files) assert.ok(actual.get(p)?.equals(b), `${cid}/${p}`);
      }
      for (const [n, files] of published) {
        const actual = await readFiles(reader, `/sw/p${n}`);
        assert.deepEqual([...actual.keys()].sort(), [...files.keys()].sort(), `/sw/p${n}`);
        for (const [p, b] of files) assert.ok(actual.get(p)?.equals(b), `/sw/p${n}/${p}`);
      }
    } finally {
      await reader.close();
    }
    t.diagnostic(`race of ${SECONDS} s: ${JSON.stringify(stats)}`);
    // The revisions the last gc of the race kept, and those a final gc keeps, are whole.
    const last = reports.at(-1) as GcReport;
    const final = await gcCommandInProcess(repo, ['--keep-revisions', '1', '--keep-days', '0']);
    const stillThere = last.kept.filter((k) => final.kept.some((f) => f.revision === k.revision));
    await assertKeptWhole(repo, [...keptRoots(final), ...stillThere.map((k) => k.root)], 'after the race');
    assertRepoConformant(repo);
    // A batch that failed with OBJECT_COLLECTED had written its catalogs and history before the
    // check: the publisher hands them to the ledger as orphans, so the final gc takes them too.
    await t.test('a final gc leaves no unreachable object', () => {
      assertNoGarbage(repo, keptRoots(final), 'after the final gc');
    });
    tmp.cleanup();
  });
});
