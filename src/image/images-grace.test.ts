import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { assertConformant } from '../testing/conformance.js';
import { startRegistry, type TestRegistry } from '../testing/registry.js';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { addImage } from './image-catalog.js';
import { buildImage, withPublisher as withRepository } from './image-test-support.js';
import { RegistryClient } from './registry/index.js';
import { readWishlist } from './wishlist.js';
import { type SyncOutcome, syncWishlist } from './wishlist-sync.js';

const FQRN = 'wishgrace.example.org';
const DAY = 86400;

/**
 * Images a wishlist stopped producing (taken out of it, deleted upstream) stay for the grace
 * (images.graceDays, 7 here) and are then removed by the sync; images added by hand, produced
 * again, or behind a registry that does not answer stay. Real images in a real docker-registry.
 */
describe('images sync: what a wishlist no longer produces goes after the grace', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  const served = path.join(data, 'repos', FQRN);
  const pub = path.join(data, 'keys', `${FQRN}.pub`);
  const layout = path.join(tmp.dir, 'layout');
  const file = path.join(tmp.dir, 'wishlist.yaml');
  const t0 = Math.floor(Date.now() / 1000);
  const client = new RegistryClient({ retries: 0 });
  let registry: TestRegistry;
  let wishlistId: string;

  const writeWishlist = (refs: string[]) =>
    writeFileSync(
      file,
      [
        'version: 1',
        `cvmfs_repo: ${FQRN}`,
        'input:',
        ...refs.map((r) => `  - '${registry.host}/${r}'`),
        '',
      ].join('\n'),
    );
  const withPublisher = <T>(use: (p: Publisher) => Promise<T>): Promise<T> => withRepository(data, FQRN, use);
  const sync = async (now: number): Promise<Map<string, SyncOutcome>> => {
    const wishlist = await readWishlist(file);
    const outcomes = await withPublisher((p) => syncWishlist(p, wishlist, { client, wishlistId, now }));
    return new Map(outcomes.map((o) => [o.reference.replace(`${registry.host}/`, ''), o]));
  };
  const removed = (outcomes: Map<string, SyncOutcome>) =>
    [...outcomes].filter(([, o]) => o.status === 'removed').map(([r]) => r);
  /** missing_since of each reference the wishlist manages. */
  const managed = (): Record<string, number | null> => {
    const db = new Database(path.join(data, 'state', FQRN, 'images.db'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT reference, missing_since FROM wishlist_refs WHERE wishlist = ? ORDER BY reference')
        .all(wishlistId) as { reference: string; missing_since: number | null }[];
      return Object.fromEntries(
        rows.map((r) => [r.reference.replace(`${registry.host}/`, ''), r.missing_since]),
      );
    } finally {
      db.close();
    }
  };
  /** Which of `refs` are linked in the current revision. */
  const linked = async (refs: string[]): Promise<string[]> => {
    const reader = await RepositoryReader.open(await openSource(served), {
      publicKeysPem: [readFileSync(pub, 'utf8')],
    });
    try {
      const out: string[] = [];
      for (const r of refs) if (await reader.lookup(`/${registry.host}/${r}`)) out.push(r);
      return out;
    } finally {
      await reader.close();
    }
  };
  const deleteUpstream = (ref: string) =>
    execFileSync('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/${ref}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const ALL = ['wl/keep:1', 'wl/drop:1', 'wl/star:a', 'wl/star:b', 'wl/explicit:1'];

  before(async () => {
    registry = await startRegistry(path.join(tmp.dir, 'registry'));
    buildImage(layout, 'one', { 'etc/which': 'one\n' });
    buildImage(layout, 'two', { 'etc/which': 'two\n' });
    await registry.push(layout, 'one', 'wl/keep:1');
    await registry.push(layout, 'one', 'wl/drop:1');
    await registry.push(layout, 'one', 'wl/star:a');
    await registry.push(layout, 'two', 'wl/star:b');
    await registry.push(layout, 'two', 'wl/explicit:1');
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    // keep:1 is added by hand before any wishlist names it: no sync may remove it.
    await withPublisher((p) => addImage(p, `${registry.host}/wl/keep:1`, { client }));
    writeWishlist(['wl/keep:1', 'wl/drop:1', 'wl/star:*', 'wl/explicit:1']);
    wishlistId = realpathSync(file);
  });
  after(async () => {
    client.close();
    await registry?.stop();
    tmp.cleanup();
  });

  it('images sync --json prints one line per image and a summary that counts removals', () => {
    const r = runBarge(['images', 'sync', file, '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines.at(-1), { sync: { published: 4, unchanged: 1, removed: 0, failed: 0 } });
    assert.deepEqual(managed(), {
      'wl/drop:1': null,
      'wl/explicit:1': null,
      'wl/star:a': null,
      'wl/star:b': null,
    });
  });

  it('taken out of the wishlist or deleted upstream: missing for the grace, then removed', async () => {
    writeWishlist(['wl/star:*', 'wl/explicit:1']);
    deleteUpstream('wl/star:b');
    deleteUpstream('wl/explicit:1');
    const day1 = await sync(t0 + DAY);
    assert.deepEqual(removed(day1), []);
    assert.equal(day1.get('wl/explicit:1')?.error?.code, 'REGISTRY_NOT_FOUND');
    assert.equal(day1.has('wl/star:b'), false, 'the registry no longer lists it');
    assert.deepEqual(managed(), {
      'wl/drop:1': t0 + DAY,
      'wl/explicit:1': t0 + DAY,
      'wl/star:a': null,
      'wl/star:b': t0 + DAY,
    });
    assert.deepEqual(await linked(ALL), ALL, 'all still there within the grace');

    // Pushed again: produced again, no longer missing.
    await registry.push(layout, 'two', 'wl/star:b');
    const day3 = await sync(t0 + 3 * DAY);
    assert.equal(day3.get('wl/star:b')?.status, 'unchanged');
    assert.equal(managed()['wl/star:b'], null);
    assert.equal(managed()['wl/drop:1'], t0 + DAY, 'missing since the first sync that missed it');

    const day9 = await sync(t0 + 9 * DAY);
    assert.deepEqual(removed(day9).sort(), ['wl/drop:1', 'wl/explicit:1']);
    assert.deepEqual(await linked(ALL), ['wl/keep:1', 'wl/star:a', 'wl/star:b']);
    assert.deepEqual(managed(), { 'wl/star:a': null, 'wl/star:b': null });
    assertConformant(served, pub);
  });

  it('a registry that does not answer makes nothing missing', async () => {
    await registry.stop();
    const outcomes = await sync(t0 + 30 * DAY);
    assert.ok([...outcomes.values()].every((o) => o.status === 'failed'));
    assert.notEqual(outcomes.get('wl/star:*')?.error?.code, 'REGISTRY_NOT_FOUND');
    assert.deepEqual(managed(), { 'wl/star:a': null, 'wl/star:b': null });
    assert.deepEqual(await linked(ALL), ['wl/keep:1', 'wl/star:a', 'wl/star:b']);
  });
});
