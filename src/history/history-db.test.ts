import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBargeError } from '../error/index.js';
import { decompressSync, objectPath } from '../object/index.js';
import { FIXTURE_FQRN, fixtureFile, fixtureManifest } from '../testing/fixture.js';
import { HistoryDb, type TagInput, TRUNK, TRUNK_PREVIOUS } from './index.js';

const H = 'a'.repeat(40);
const H2 = 'b'.repeat(40);

function fixtureHistoryBytes(): Buffer {
  const h = fixtureManifest().get('H') as string;
  return decompressSync(fixtureFile(objectPath(h, 'H')), h);
}

/** sqlite_master rows and the property keys of an SQLite image, for schema comparison. */
function schemaOf(bytes: Buffer): { master: unknown[]; properties: unknown[] } {
  const db = new Database(bytes);
  try {
    return {
      master: db
        .prepare('SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid')
        .all(),
      properties: db
        .prepare(
          "SELECT key, value, typeof(value) AS t FROM properties WHERE key <> 'previous_revision' ORDER BY rowid",
        )
        .all(),
    };
  } finally {
    db.close();
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'barge-history-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const tag = (name: string, hash: string, revision: number, timestamp: number): TagInput => ({
  name,
  hash,
  revision,
  timestamp,
  size: 4096,
  description: `${name} description`,
});

describe('the fixture history database', () => {
  it('opens with the tags cvmfs_server tag -l printed', () => {
    const db = HistoryDb.open(fixtureHistoryBytes());
    try {
      assert.equal(db.fqrn, FIXTURE_FQRN);
      assert.equal(db.previousRevision, '12b04b9d3304fdaa72751816be10812546824c52');
      assert.deepEqual(
        db.tags().map((t) => [t.name, t.revision, t.description]),
        [
          ['trunk', 3, 'current HEAD'],
          ['v2', 3, 'second tagged revision'],
          ['v1', 2, 'first tagged revision'],
          ['trunk-previous', 2, 'default undo target'],
        ],
      );
      assert.deepEqual(db.getTag('trunk'), {
        name: 'trunk',
        hash: fixtureManifest().get('C'),
        revision: 3,
        timestamp: 1795594911,
        size: 94208,
        description: 'current HEAD',
        channel: 0,
        branch: '',
      });
      assert.equal(db.tagByDate(1795594910)?.revision, 2);
      assert.equal(db.tagByDate(1795594800), undefined);
    } finally {
      db.close();
    }
  });

  it('has exactly the schema and properties of a database barge creates', () => {
    const ours = HistoryDb.create(FIXTURE_FQRN);
    try {
      assert.deepEqual(schemaOf(ours.serialize()), schemaOf(fixtureHistoryBytes()));
    } finally {
      ours.close();
    }
  });
});

describe('history databases barge writes', () => {
  it('are rollback-journal SQLite files with 4096-byte pages that SQLite opens from disk', async () => {
    await withDir(async (dir) => {
      const db = HistoryDb.create('test.example.org');
      db.setTag(tag('v1', H, 1, 100));
      const bytes = db.serialize();
      db.close();
      assert.equal(bytes.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
      assert.equal(bytes.readUInt16BE(16), 4096);
      assert.deepEqual([bytes[18], bytes[19]], [1, 1], 'file format 1: rollback journal, not WAL');
      const file = path.join(dir, 'history.db');
      await writeFile(file, bytes);
      const disk = new Database(file, { readonly: true });
      try {
        assert.equal(disk.pragma('journal_mode', { simple: true }), 'delete');
        assert.equal(disk.pragma('integrity_check', { simple: true }), 'ok');
        assert.deepEqual(disk.pragma('foreign_key_check'), []);
        assert.equal(
          (disk.prepare("SELECT count(*) AS n FROM branches WHERE branch = ''").get() as { n: number }).n,
          1,
        );
      } finally {
        disk.close();
      }
    });
  });

  it('round-trip tags, previous revision and fqrn through serialize and open', () => {
    const a = HistoryDb.create('test.example.org');
    a.setTag(tag('v1', H, 1, 100));
    a.setPreviousRevision(H2);
    const b = HistoryDb.open(a.serialize());
    a.close();
    try {
      assert.equal(b.fqrn, 'test.example.org');
      assert.equal(b.previousRevision, H2);
      assert.deepEqual(b.getTag('v1'), { ...tag('v1', H, 1, 100), channel: 0, branch: '' });
    } finally {
      b.close();
    }
  });

  it('moves an existing tag with setTag and refuses a duplicate with addTag', () => {
    const db = HistoryDb.create('test.example.org');
    try {
      db.addTag(tag('release', H, 1, 100));
      assert.throws(
        () => db.addTag(tag('release', H2, 2, 200)),
        (err) => isBargeError(err, 'TAG_EXISTS'),
      );
      db.setTag(tag('release', H2, 2, 200));
      assert.equal(db.getTag('release')?.hash, H2);
      assert.equal(db.tags().length, 1);
      assert.equal(db.removeTag('release'), true);
      assert.equal(db.removeTag('release'), false);
      assert.equal(db.getTag('release'), undefined);
    } finally {
      db.close();
    }
  });

  it('moves trunk to trunk-previous on every publish, as cvmfs_server does', () => {
    const db = HistoryDb.create('test.example.org');
    try {
      db.advanceTrunk({ hash: H, revision: 2, timestamp: 100, size: 10 });
      assert.equal(db.getTag(TRUNK_PREVIOUS), undefined);
      db.advanceTrunk({ hash: H2, revision: 3, timestamp: 200, size: 20 });
      assert.deepEqual(
        db.tags().map((t) => [t.name, t.hash, t.revision, t.description]),
        [
          [TRUNK, H2, 3, 'current HEAD'],
          [TRUNK_PREVIOUS, H, 2, 'default undo target'],
        ],
      );
    } finally {
      db.close();
    }
  });

  const badTags: [string, Partial<TagInput>][] = [
    ['an empty name', { name: '' }],
    ['a name with a space', { name: 'my tag' }],
    ['a hash with a suffix', { hash: `${H}C` }],
    ['a negative revision', { revision: -1 }],
    ['a fractional timestamp', { timestamp: 1.5 }],
  ];
  for (const [what, change] of badTags) {
    it(`refuses a tag with ${what}`, () => {
      const db = HistoryDb.create('test.example.org');
      try {
        assert.throws(
          () => db.setTag({ ...tag('ok', H, 1, 1), ...change }),
          (err) => isBargeError(err, 'INVALID_ARGUMENT'),
        );
      } finally {
        db.close();
      }
    });
  }
});

describe('opening history databases of other writers', () => {
  /** A schema revision 2 database as cvmfs before 2.6 wrote it (no branches, tags without branch). */
  function revision2(): Buffer {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key))');
    db.exec(
      'CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER,   timestamp INTEGER, channel INTEGER, description TEXT, size INTEGER,   CONSTRAINT pk_tags PRIMARY KEY (name))',
    );
    db.exec('CREATE TABLE recycle_bin (hash TEXT, flags INTEGER,   CONSTRAINT pk_hash PRIMARY KEY (hash))');
    db.exec(
      "INSERT INTO properties VALUES ('schema', '1.0'), ('schema_revision', '2'), ('fqrn', 'old.example.org')",
    );
    db.exec(`INSERT INTO tags VALUES ('trunk', '${H}', 7, 700, 0, 'current HEAD', 123)`);
    db.exec(`INSERT INTO recycle_bin VALUES ('${H2}', 1)`);
    const bytes = db.serialize();
    db.close();
    return bytes;
  }

  it('upgrades schema revision 2 to 3 as cvmfs does', () => {
    const db = HistoryDb.open(revision2());
    const bytes = db.serialize();
    try {
      assert.equal(db.getTag('trunk')?.branch, '');
      db.setTag(tag('v7', H, 7, 700));
    } finally {
      db.close();
    }
    const raw = new Database(bytes);
    try {
      assert.equal(
        (raw.prepare("SELECT value FROM properties WHERE key = 'schema_revision'").get() as { value: string })
          .value,
        '3',
      );
      assert.equal((raw.prepare('SELECT count(*) AS n FROM recycle_bin').get() as { n: number }).n, 0);
      assert.equal((raw.prepare('SELECT count(*) AS n FROM branches').get() as { n: number }).n, 1);
    } finally {
      raw.close();
    }
  });

  it('rewrites a database with 1024-byte pages (official cvmfs builds) to 4096-byte pages', () => {
    const small = new Database(':memory:');
    small.pragma('page_size = 1024');
    small.exec('CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key))');
    small.exec(
      "INSERT INTO properties VALUES ('schema', '1.0'), ('schema_revision', '0'), ('fqrn', 'old.example.org')",
    );
    small.exec(
      'CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, timestamp INTEGER, channel INTEGER, description TEXT, CONSTRAINT pk_tags PRIMARY KEY (name))',
    );
    for (let i = 0; i < 50; i++)
      small.exec(`INSERT INTO tags VALUES ('t${i}', '${H}', ${i}, ${i}, 0, '${'x'.repeat(100)}')`);
    const image = small.serialize();
    small.close();
    assert.equal(image.readUInt16BE(16), 1024);
    const db = HistoryDb.open(image);
    const bytes = db.serialize();
    db.close();
    assert.equal(bytes.readUInt16BE(16), 4096);
    const again = HistoryDb.open(bytes);
    try {
      assert.equal(again.tags().length, 50);
      assert.equal(again.getTag('t7')?.size, 0, 'revision 0 had no size column');
    } finally {
      again.close();
    }
  });

  it('opens an image whose header says WAL', () => {
    const bytes = HistoryDb.create('wal.example.org').serialize();
    bytes[18] = 2;
    bytes[19] = 2;
    const db = HistoryDb.open(bytes);
    try {
      assert.equal(db.fqrn, 'wal.example.org');
      const out = db.serialize();
      assert.deepEqual([out[18], out[19]], [1, 1]);
    } finally {
      db.close();
    }
  });

  const invalid: [string, () => Buffer][] = [
    ['bytes that are not SQLite', () => Buffer.from('not a database at all'.repeat(10))],
    [
      'a zlib object that was not inflated',
      () => fixtureFile(objectPath(fixtureManifest().get('H') as string, 'H')),
    ],
    [
      'a database without an fqrn property',
      () => {
        const db = new Database(':memory:');
        db.exec('CREATE TABLE properties (key TEXT, value TEXT)');
        const b = db.serialize();
        db.close();
        return b;
      },
    ],
    [
      'a database of schema 2.0',
      () => {
        const db = new Database(':memory:');
        db.exec('CREATE TABLE properties (key TEXT, value TEXT)');
        db.exec("INSERT INTO properties VALUES ('schema', '2.0'), ('fqrn', 'a.b')");
        const b = db.serialize();
        db.close();
        return b;
      },
    ],
    [
      'a catalog',
      () => {
        const c = fixtureManifest().get('C') as string;
        return decompressSync(fixtureFile(objectPath(c, 'C')), c);
      },
    ],
  ];
  for (const [what, bytes] of invalid) {
    it(`refuses ${what} as HISTORY_INVALID`, () => {
      assert.throws(
        () => HistoryDb.open(bytes()),
        (err) => isBargeError(err, 'HISTORY_INVALID'),
      );
    });
  }
});
