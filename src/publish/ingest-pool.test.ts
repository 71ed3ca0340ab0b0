import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { objectPath } from '../object/index.js';
import { FsObjectStore } from '../storage/index.js';
import { SeededRandom } from '../testing/seeded-random.js';
import { tempDir } from '../testing/temp-dir.js';
import { IngestPool } from './ingest-pool.js';
import type { Stager } from './staging-session.js';

describe('ingest pool with a stager', () => {
  const tmp = tempDir();
  after(tmp.cleanup);

  it('stages every new object before it is in place, and answers held for staging go when the last tasks write nothing', async () => {
    const root = path.join(tmp.dir, 'store');
    await new FsObjectStore(root).initLayout();
    const staged: string[] = [];
    const early: string[] = [];
    const stager: Stager = {
      async stage(keys) {
        for (const k of keys) if (existsSync(path.join(root, k))) early.push(k);
        staged.push(...keys);
      },
    };
    const r = new SeededRandom('ingest-pool', 'stager');
    const files = Array.from({ length: 41 }, (_, i) => {
      const file = path.join(tmp.dir, 'src', `f${i}`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, r.bytes(100 + i));
      return file;
    });
    const ingest = (pool: IngestPool, file: string) => {
      const st = statSync(file, { bigint: true });
      return pool.ingest(file, st.size, st.mtimeNs);
    };
    const pool = new IngestPool(root, 'sha1', null, stager, 2);
    try {
      // Forty objects stored; then the new one first and the forty again (nothing to write): its
      // answer is held while many tasks are out, and must go once they are answered.
      await Promise.all(files.slice(1).map((f) => ingest(pool, f)));
      const contents = await Promise.race([
        Promise.all([files[0] as string, ...files.slice(1)].map((f) => ingest(pool, f))),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('held answers never went')), 10_000),
        ),
      ]);
      const keys = contents.map((c) => objectPath(c.hash as string, ''));
      assert.deepEqual(early, [], 'no object was in place before it was staged');
      assert.deepEqual(new Set(staged), new Set(keys));
      for (const k of keys) assert.ok(existsSync(path.join(root, k)), `${k} is in place`);
    } finally {
      await pool.close();
    }
  });
});
