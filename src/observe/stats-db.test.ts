import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/temp-dir.js';
import { StatsDb, type StatsSample } from './stats-db.js';

const sample = (at: number, revision = at): StatsSample => ({
  at,
  revision,
  rootHash: `root${revision}`,
  objects: revision * 10,
  logicalBytes: revision * 1000,
  files: revision,
  storedObjects: revision * 12,
  storedBytes: revision * 700,
  key: `${revision}:root${revision}:0`,
  seconds: 0.01,
});

describe('stats db: the storage history of one repository', () => {
  it('keeps samples in time order and survives a reopen', () => {
    const tmp = tempDir();
    try {
      const state = path.join(tmp.dir, 'state');
      const db = new StatsDb(state);
      assert.equal(db.latest(), undefined);
      for (const at of [100, 200, 300]) db.append(sample(at));
      db.close();
      const again = new StatsDb(state);
      assert.deepEqual(again.latest(), sample(300));
      assert.deepEqual(
        again.samples(2).map((s) => s.at),
        [200, 300],
      );
      again.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('thins its older half instead of growing without bound, keeping the whole span', () => {
    const tmp = tempDir();
    try {
      const db = new StatsDb(tmp.dir);
      for (let at = 1; at <= 10_050; at++) db.append(sample(at));
      const all = db.samples(100_000);
      assert.ok(all.length <= 10_000, `${all.length} samples kept`);
      assert.equal(all[0]?.at, 1, 'the oldest sample stays');
      assert.equal(all[all.length - 1]?.at, 10_050, 'the newest stays');
      db.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('records the last sync of each image: a failure keeps the time of the last success', () => {
    const tmp = tempDir();
    try {
      const db = new StatsDb(tmp.dir);
      db.recordSync({ reference: 'r.example.org/a:1', status: 'published', revision: 4, at: 1000 });
      db.recordSync({
        reference: 'r.example.org/a:1',
        status: 'failed',
        error: { code: 'REGISTRY_UNAVAILABLE', message: 'registry answered 503' },
        at: 2000,
      });
      assert.deepEqual(db.syncs(), [
        {
          reference: 'r.example.org/a:1',
          lastAt: 2000,
          lastSuccessAt: 1000,
          status: 'failed',
          revision: 4,
          error: { code: 'REGISTRY_UNAVAILABLE', message: 'registry answered 503' },
        },
      ]);
      db.close();
    } finally {
      tmp.cleanup();
    }
  });
});
