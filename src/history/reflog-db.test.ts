import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBargeError } from '../error/index.js';
import { hashBytes } from '../object/index.js';
import { FIXTURE_FQRN, fixtureFile, fixtureManifest } from '../testing/fixture.js';
import { HistoryDb, ReflogDb } from './index.js';

const A = 'a'.repeat(40);
const B = `${'b'.repeat(40)}-shake128`;

function schemaOf(bytes: Buffer): unknown {
  const db = new Database(bytes);
  try {
    return {
      master: db
        .prepare('SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid')
        .all(),
      properties: db.prepare('SELECT key, value, typeof(value) AS t FROM properties ORDER BY rowid').all(),
    };
  } finally {
    db.close();
  }
}

describe('the fixture reflog', () => {
  it('records the objects the fixture manifest names', () => {
    const m = fixtureManifest();
    const reflog = ReflogDb.open(fixtureFile('.cvmfsreflog'));
    try {
      assert.equal(reflog.fqrn, FIXTURE_FQRN);
      assert.equal(reflog.list().length, 11);
      assert.ok(reflog.contains(m.get('C') as string, 'catalog'));
      assert.ok(reflog.contains(m.get('X') as string, 'certificate'));
      assert.ok(reflog.contains(m.get('H') as string, 'history'));
      assert.ok(reflog.contains(m.get('M') as string, 'metainfo'));
      assert.equal(reflog.contains(m.get('C') as string, 'history'), false, 'type must match too');
      assert.deepEqual(
        reflog.list('catalog').map((r) => r.timestamp),
        [...reflog.list('catalog').map((r) => r.timestamp)].sort((x, y) => x - y),
        'oldest first',
      );
    } finally {
      reflog.close();
    }
  });

  it('is the file the manifest Y hashes (no gc ran after the last publish)', () => {
    assert.equal(hashBytes(fixtureFile('.cvmfsreflog'), 'sha1'), fixtureManifest().get('Y'));
  });

  it('has exactly the schema and properties of a reflog barge creates', () => {
    const ours = ReflogDb.create(FIXTURE_FQRN);
    try {
      assert.deepEqual(schemaOf(ours.serialize()), schemaOf(fixtureFile('.cvmfsreflog')));
    } finally {
      ours.close();
    }
  });

  it('is not a history database, and a history database is not a reflog', () => {
    assert.throws(
      () => HistoryDb.open(fixtureFile('.cvmfsreflog')),
      (err) => isBargeError(err, 'HISTORY_INVALID'),
    );
    const history = HistoryDb.create('a.b');
    const bytes = history.serialize();
    history.close();
    assert.throws(
      () => ReflogDb.open(bytes),
      (err) => isBargeError(err, 'REFLOG_INVALID'),
    );
  });
});

describe('reflogs barge writes', () => {
  it('add, replace, remove and list references', () => {
    const reflog = ReflogDb.create('test.example.org');
    try {
      reflog.add(A, 'catalog', 200);
      reflog.add(B, 'certificate', 100);
      assert.deepEqual(reflog.list(), [
        { hash: B, type: 'certificate', timestamp: 100 },
        { hash: A, type: 'catalog', timestamp: 200 },
      ]);
      reflog.add(A, 'catalog', 300); // INSERT OR REPLACE, as every signing does
      assert.deepEqual(reflog.list('catalog'), [{ hash: A, type: 'catalog', timestamp: 300 }]);
      assert.equal(reflog.remove(A, 'history'), false, 'removal matches hash and type');
      assert.equal(reflog.remove(A, 'catalog'), true);
      assert.equal(reflog.contains(A, 'catalog'), false);
      assert.deepEqual(reflog.list('history'), []);
    } finally {
      reflog.close();
    }
  });

  it('serialize to a rollback-journal file that SQLite opens from disk and barge reopens', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-reflog-'));
    try {
      const reflog = ReflogDb.create('test.example.org');
      reflog.add(A, 'catalog', 1);
      const bytes = reflog.serialize();
      reflog.close();
      assert.equal(bytes.readUInt16BE(16), 4096);
      assert.deepEqual([bytes[18], bytes[19]], [1, 1]);
      const reopened = ReflogDb.open(bytes);
      assert.deepEqual(reopened.list(), [{ hash: A, type: 'catalog', timestamp: 1 }]);
      reopened.close();
      const file = path.join(dir, '.cvmfsreflog');
      await writeFile(file, bytes);
      const disk = new Database(file, { readonly: true });
      try {
        assert.equal(disk.pragma('journal_mode', { simple: true }), 'delete');
        assert.deepEqual(disk.prepare('SELECT hash, type, timestamp FROM refs').all(), [
          { hash: A, type: 0, timestamp: 1 },
        ]);
      } finally {
        disk.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses hashes with suffixes, unknown types and non-integer times', () => {
    const reflog = ReflogDb.create('test.example.org');
    try {
      assert.throws(
        () => reflog.add(`${A}C`, 'catalog', 1),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
      );
      assert.throws(
        () => reflog.add(A, 'chunk' as never, 1),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
      );
      assert.throws(
        () => reflog.add(A, 'catalog', 1.5),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
      );
    } finally {
      reflog.close();
    }
  });

  it('refuses bytes that are not SQLite as REFLOG_INVALID', () => {
    assert.throws(
      () => ReflogDb.open(Buffer.alloc(200)),
      (err) => isBargeError(err, 'REFLOG_INVALID'),
    );
  });
});
