import assert from 'node:assert/strict';
import { cp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compressSync, hashBytes, objectPath } from '../object/index.js';
import { assertConformant } from '../testing/conformance.js';
import { tempDir } from '../testing/temp-dir.js';
import { rebuildLedger } from './rebuild-ledger.js';
import {
  assertCollected,
  barge,
  bargeJson,
  FQRN,
  type GcJson,
  layout,
  ledgerRows,
  removeLedger,
  storeKeys,
  taggedRoots,
  waitPastHead,
  writableFixture,
  writeTree,
} from './rebuild-test-support.js';

describe('barge gc --rebuild-ledger', () => {
  it('rebuilds the ledger of a repository cvmfs_server wrote; gc keeps the tagged and served revisions', {
    timeout: 180_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = await writableFixture(tmp.dir);
      const before = await storeKeys(l.served);
      // Publisher.open makes a ledger that knows nothing: gc must refuse it.
      assert.match(barge(l, 'gc', l.fqrn).stderr, /LEDGER_INCOMPLETE/);
      const r = await rebuildLedger({ dataDir: l.data, fqrn: l.fqrn });
      // mkfs wrote revision 0, then three publishes: the chain from the served root finds them all.
      const rows = ledgerRows(l.ledger);
      assert.equal(rows.complete, 'yes');
      assert.deepEqual(
        rows.revisions.map((x) => Number(x.split(' ')[0])),
        [0, 1, 2, 3],
      );
      assert.deepEqual([r.revisions, r.pinned, r.unreadable, r.dropped], [4, [], [], []]);
      // The reflog learnt the new certificate and the manifest was re-signed for it.
      assert.deepEqual(r.reflog, { added: 1, removed: 0, recreated: false });
      // The old certificate and the four history objects before the served one reach nothing.
      assert.equal(r.orphans, 5);
      // A rebuild changes no file in data/ (the reflog and manifest are outside it).
      assert.deepEqual([...(await storeKeys(l.served))].sort(), [...before].sort());
      assertConformant(l.served, l.pub, { allRevisions: true });

      const gc = bargeJson<GcJson>(l, 'gc', l.fqrn, '--keep-revisions', '1', '--keep-days', '0');
      const kept = await taggedRoots(l);
      assert.deepEqual(new Set(gc.kept.map((k) => k.root)), kept);
      assert.equal(gc.revisionsDropped.length, r.revisions - kept.size);
      await assertCollected(l, kept);
    } finally {
      tmp.cleanup();
    }
  });

  it('rebuilds a lost ledger to what publishing wrote, and gc then collects exactly the unkept revisions', {
    timeout: 180_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      assert.ok(barge(l, 'init', FQRN).ok);
      const steps: Record<string, string>[] = [
        { 'a/one': '1', 'sub/.cvmfscatalog': '', 'sub/x': 'x', 'big/data': 'b'.repeat(100_000) },
        { 'a/one': '1', 'a/two': '2', 'sub/.cvmfscatalog': '', 'sub/x': 'x', 'sub/y': 'y' },
        { 'a/two': '2', 'sub/.cvmfscatalog': '', 'sub/x': 'x', 'sub/y': 'y', 'c/three': '3' },
        { 'a/two': '2+', 'sub/.cvmfscatalog': '', 'sub/x': 'x', 'c/three': '3', 'c/four': '4' },
        { 'a/two': '2+', 'sub/.cvmfscatalog': '', 'sub/x': 'x2', 'c/four': '4', five: '5' },
      ];
      for (const [i, files] of steps.entries()) {
        await writeTree(src, files);
        assert.ok(barge(l, 'publish', FQRN, src).ok);
        if (i === 0) assert.ok(barge(l, 'tag', FQRN, 'first').ok);
        if (i === 2) assert.ok(barge(l, 'tag', FQRN, 'middle').ok);
      }
      const written = ledgerRows(l.ledger);
      await removeLedger(l);
      const refused = barge(l, 'gc', FQRN);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /LEDGER_INCOMPLETE[\s\S]*--rebuild-ledger/);

      const r = bargeJson<{ revisions: number; orphans: number }>(l, 'gc', FQRN, '--rebuild-ledger');
      assert.equal(r.revisions, steps.length + 1);
      // The counts publishing kept are the counts the repository holds.
      const rebuilt = ledgerRows(l.ledger);
      assert.deepEqual(rebuilt.revisions, written.revisions);
      assert.deepEqual(rebuilt.catalogs, written.catalogs);
      assert.deepEqual(rebuilt.objects, written.objects);
      assert.equal(rebuilt.complete, 'yes');

      await waitPastHead(l);
      const gc = bargeJson<GcJson>(l, 'gc', FQRN, '--keep-revisions', '1', '--keep-days', '0');
      const kept = await taggedRoots(l);
      assert.deepEqual(new Set(gc.kept.map((k) => k.root)), kept);
      assert.deepEqual(gc.kept.map((k) => k.revision).sort(), [2, 4, 5, 6]);
      assert.deepEqual(gc.revisionsDropped.sort(), [1, 3]);
      await assertCollected(l, kept);
      // The gc history outlives a second rebuild, which finds nothing left to stage.
      const again = await rebuildLedger({ dataDir: l.data, fqrn: FQRN });
      assert.equal(again.orphans, 0);
      assert.equal(ledgerRows(l.ledger).gcRuns.length, 1);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses a ledger restored from an older backup (LEDGER_MISMATCH) and a rebuild repairs it', {
    timeout: 180_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      const backup = path.join(tmp.dir, 'ledger-backup.db');
      assert.ok(barge(l, 'init', FQRN).ok);
      await writeTree(src, { shared: 'in 2 and 3', 'sub/.cvmfscatalog': '', 'sub/a': 'a' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      await cp(l.ledger, backup); // barge closed it: the WAL is checkpointed into the file
      await writeTree(src, { shared: 'in 2 and 3', new: 'in 3', 'sub/.cvmfscatalog': '', 'sub/a': 'a' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      assert.ok(barge(l, 'tag', FQRN, 'keep').ok);
      await removeLedger(l);
      await cp(backup, l.ledger);
      const refused = barge(l, 'gc', FQRN, '--keep-revisions', '1', '--keep-days', '0');
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /LEDGER_MISMATCH: the gc ledger says revision 2 .* serves 3/);

      await rebuildLedger({ dataDir: l.data, fqrn: FQRN });
      await waitPastHead(l);
      const gc = bargeJson<GcJson>(l, 'gc', FQRN, '--keep-revisions', '1', '--keep-days', '0');
      assert.deepEqual(gc.revisionsDropped, [1]); // 2 is trunk-previous
      await assertCollected(l, await taggedRoots(l));
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses to collect after a publish on top of a ledger restored from an older backup', {
    timeout: 180_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      const backup = path.join(tmp.dir, 'ledger-backup.db');
      assert.ok(barge(l, 'init', FQRN).ok);
      await writeTree(src, { shared: 'in 2 and 3' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      await cp(l.ledger, backup);
      await writeTree(src, { shared: 'in 2 and 3', new: 'in 3' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      assert.ok(barge(l, 'tag', FQRN, 'keep').ok);
      await removeLedger(l);
      await cp(backup, l.ledger);
      // One catalog, all rewritten: nothing in the new revision reveals the ledger's gap.
      await writeTree(src, { new: 'in 3' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      await waitPastHead(l);
      const gc = barge(l, 'gc', FQRN, '--keep-revisions', '1', '--keep-days', '0');
      // Collecting here deletes `shared`, which the tagged revision 3 still names.
      assert.match(gc.stderr, /LEDGER_MISMATCH|LEDGER_INCOMPLETE/, `gc ran: ${gc.stdout}`);
    } finally {
      tmp.cleanup();
    }
  });

  it('stages an object file nothing references, which the next gc deletes; other names stay', {
    timeout: 120_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      assert.ok(barge(l, 'init', FQRN).ok);
      await writeTree(src, { file: 'content' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      const before = await storeKeys(l.served);
      const stray = compressSync(Buffer.from('left by a writer that died'));
      const strayKey = objectPath(hashBytes(stray, 'sha1'), '');
      await writeFile(path.join(l.served, strayKey), stray);
      const notAnObject = 'data/00/README';
      await writeFile(path.join(l.served, notAnObject), 'an operator note');

      // The ledger publishing wrote is complete here; the rebuild still finds the stray file.
      const r = await rebuildLedger({ dataDir: l.data, fqrn: FQRN });
      assert.equal(r.orphans, 1);
      await waitPastHead(l);
      const gc = bargeJson<GcJson>(l, 'gc', FQRN);
      assert.deepEqual([gc.revisionsDropped, gc.objectsDeleted], [[], 1]);
      const left = await storeKeys(l.served);
      assert.ok(left.has(notAnObject), 'a name that is not an object is not ours to judge');
      left.delete(notAnObject);
      assert.deepEqual([...left].sort(), [...before].sort());
    } finally {
      tmp.cleanup();
    }
  });

  it('leaves out a revision an earlier gc dropped and was killed before deleting whole', {
    timeout: 120_000,
  }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      assert.ok(barge(l, 'init', FQRN).ok);
      const steps: Record<string, string>[] = [
        { a: '2' },
        { a: '2', b: 'only in 3' },
        { a: '4' },
        { a: '5' },
      ];
      for (const files of steps) {
        await writeTree(src, files);
        assert.ok(barge(l, 'publish', FQRN, src).ok);
      }
      const root3 = ledgerRows(l.ledger).revisions[2]?.split(' ')[1] as string;
      const key3 = objectPath(root3, 'C');
      await cp(path.join(l.served, key3), path.join(tmp.dir, 'root3'));
      await waitPastHead(l);
      const gc = bargeJson<GcJson>(l, 'gc', FQRN, '--keep-revisions', '1', '--keep-days', '0');
      assert.deepEqual(gc.revisionsDropped, [1, 2, 3]);
      // As if the gc had been killed after deleting revision 3's file but not yet its root catalog.
      await cp(path.join(tmp.dir, 'root3'), path.join(l.served, key3));

      const r = await rebuildLedger({ dataDir: l.data, fqrn: FQRN });
      assert.deepEqual([r.revisions, r.dropped], [2, [root3]]);
      // Even a gc that keeps every revision it knows collects it now.
      assert.equal(bargeJson<GcJson>(l, 'gc', FQRN, '--keep-revisions', '100').objectsDeleted, 1);
      await assertCollected(l, await taggedRoots(l));
    } finally {
      tmp.cleanup();
    }
  });

  it('moves an unreadable ledger aside and rebuilds it', { timeout: 120_000 }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      assert.ok(barge(l, 'init', FQRN).ok);
      await removeLedger(l);
      await writeFile(l.ledger, Buffer.alloc(8192, 0x5a));
      assert.notEqual(barge(l, 'gc', FQRN).status, 0);
      const lines: string[] = [];
      const r = await rebuildLedger({ dataDir: l.data, fqrn: FQRN, onProgress: (s) => lines.push(s) });
      assert.equal(r.revisions, 1);
      assert.match(lines.join('\n'), /moved it to .*ledger\.db\.unreadable-/);
      assert.ok((await readdir(l.state)).some((f) => f.startsWith('ledger.db.unreadable-')));
      assert.equal(barge(l, 'gc', FQRN).status, 0);
    } finally {
      tmp.cleanup();
    }
  });

  it('changes nothing when a catalog of the served revision is missing', { timeout: 120_000 }, async () => {
    const tmp = tempDir('barge-rebuild-');
    try {
      const l = layout(tmp.dir);
      const src = path.join(tmp.dir, 'src');
      assert.ok(barge(l, 'init', FQRN).ok);
      await writeTree(src, { 'sub/.cvmfscatalog': '', 'sub/x': 'x' });
      assert.ok(barge(l, 'publish', FQRN, src).ok);
      await removeLedger(l);
      const info = bargeJson<{ catalogs: { mountpoint: string; hash: string }[] }>(l, 'info', FQRN);
      const nested = info.catalogs.find((c) => c.mountpoint === '/sub');
      assert.ok(nested);
      const nestedKey = objectPath(nested.hash, 'C');
      await rename(path.join(l.served, nestedKey), path.join(tmp.dir, 'nested'));
      const manifest = await readFile(path.join(l.served, '.cvmfspublished'));
      await assert.rejects(rebuildLedger({ dataDir: l.data, fqrn: FQRN }), { code: 'OBJECT_NOT_FOUND' });
      assert.deepEqual(await readFile(path.join(l.served, '.cvmfspublished')), manifest);
      assert.notEqual(ledgerRows(l.ledger).complete, 'yes');
    } finally {
      tmp.cleanup();
    }
  });
});
