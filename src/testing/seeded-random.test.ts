import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from './seeded-random.js';

describe('SeededRandom', () => {
  it('repeats its stream for the same seed and label', () => {
    assert.deepEqual(new SeededRandom(7, 'x').bytes(1000), new SeededRandom(7, 'x').bytes(1000));
  });

  it('gives independent streams for other seeds and labels', () => {
    const base = new SeededRandom(7, 'x').bytes(64);
    assert.notDeepEqual(new SeededRandom(8, 'x').bytes(64), base);
    assert.notDeepEqual(new SeededRandom(7, 'y').bytes(64), base);
  });

  it('continues the stream across calls, whatever their sizes', () => {
    const r = new SeededRandom(1);
    assert.deepEqual(Buffer.concat([r.bytes(3), r.bytes(5000), r.bytes(1)]), new SeededRandom(1).bytes(5004));
  });

  it('keeps int() in range', () => {
    const r = new SeededRandom('range');
    for (let i = 0; i < 1000; i++) {
      const v = r.int(7);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
    }
  });
});
