import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collectGarbage } from '../gc/gc.js';
import { putFile } from '../image/publish-image.js';
import { initRepository, Publisher } from '../publish/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { SILENT_LOG } from './json-log.js';
import { StatsSampler } from './stats-sampler.js';

const FQRN = 'sampler.example.org';

/**
 * Light samples: once a full sample is slow, the next ones read only the root catalog's counters
 * (revision, files, logical bytes follow every publish) and carry the object and storage numbers
 * of the last full one; a gc makes the next sample full again.
 */
describe('StatsSampler: light samples of a large repository between full ones', () => {
  const tmp = tempDir();
  const data = `${tmp.dir}/data`;
  let sampler: StatsSampler;
  before(async () => {
    await initRepository(data, FQRN);
    // Every full sample counts as slow.
    sampler = new StatsSampler({ dataDir: data, log: SILENT_LOG, fullSlowSeconds: 0 });
  });
  after(async () => {
    await sampler.close();
    tmp.cleanup();
  });

  async function publish(name: string, bytes: number) {
    const p = await Publisher.open(data, FQRN);
    try {
      await p.applyChanges(async (tree, writer) => {
        const body = Buffer.alloc(bytes, name);
        await putFile(tree, writer, `/${name}`, body, 0o644, 1_700_000_000, p.config.hashAlgorithm);
      });
      await p.applyChanges(async (tree) => {
        if (name === 'c') await tree.remove('/a');
      });
    } finally {
      await p.close();
    }
  }

  it('follows publishes from the root counters and takes a full sample after a gc', async () => {
    await publish('a', 10_000);
    const first = await sampler.refresh(FQRN, 60_000);
    assert.ok(first);
    assert.equal(first.files, 1);
    await publish('b', 20_000);
    const second = await sampler.refresh(FQRN, 60_000);
    assert.ok(second && second.revision > first.revision);
    assert.equal(second.files, 2, 'files from the root counters');
    assert.equal(second.logicalBytes, 30_000);
    assert.equal(second.storedBytes, first.storedBytes, 'storage carried from the full sample');
    assert.equal(second.objects, first.objects);
    await publish('c', 40_000);
    await collectGarbage({ dataDir: data, fqrn: FQRN, retention: { revisions: 1, days: 0 } });
    const third = await sampler.refresh(FQRN, 60_000);
    assert.ok(third);
    assert.equal(third.files, 2);
    assert.notEqual(third.storedBytes, first.storedBytes, 'a full sample after the gc');
    assert.notEqual(third.objects, first.objects);
  });
});
