import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type ErrorCode, isBargeError } from '../error/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { TokenStore, tokenStorePath } from './token-store.js';
import { hashSecret, parseToken } from './token-text.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

/** Asserts that `fn` throws a BargeError with `code`. */
function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err) => isBargeError(err, code));
}

describe('TokenStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: TokenStore;
  beforeEach(() => {
    tmp = tempDir('barge-tokens-');
    store = new TokenStore(tmp.dir);
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('creates a token that verifies as its group and scope, and keeps it across reopening', () => {
    const t = store.create({ group: 'cms', note: 'crab robot' }, NOW);
    assert.match(t.token, /^barge_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(parseToken(t.token)?.id, t.id);
    const expected = {
      id: t.id,
      group: 'cms',
      scope: 'publish',
      repository: null,
      expiresAt: null,
      createdAt: NOW,
    };
    assert.deepEqual(store.verify(t.token, NOW), expected);
    store.close();
    store = new TokenStore(tmp.dir);
    assert.deepEqual(store.verify(t.token, NOW), expected);
  });

  it('gives every token its own id and secret', () => {
    const a = store.create({ group: 'cms' });
    const b = store.create({ group: 'cms' });
    assert.notEqual(a.id, b.id);
    assert.notEqual(parseToken(a.token)?.secret, parseToken(b.token)?.secret);
  });

  it('refuses a missing token as TOKEN_MISSING', () => {
    throwsCode(() => store.verify(undefined), 'TOKEN_MISSING');
    throwsCode(() => store.verify(''), 'TOKEN_MISSING');
  });

  it('refuses a wrong secret, an unknown id and malformed text alike, with one message', () => {
    const t = store.create({ group: 'cms' });
    const { id, secret } = parseToken(t.token)!;
    const flipped = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);
    const cases = {
      'wrong secret': `barge_${id}_${flipped}`,
      'unknown id': `barge_${'0'.repeat(16)}_${secret}`,
      'secret cut short': t.token.slice(0, -1),
      'secret too long': `${t.token}A`,
      'uppercase id': `barge_${id.toUpperCase()}_${secret}`,
      'no prefix': t.token.slice('barge_'.length),
      'other prefix': `ghp_${id}_${secret}`,
      'trailing newline': `${t.token}\n`,
      'just text': 'letmein',
    };
    const messages = new Set<string>();
    for (const [name, text] of Object.entries(cases)) {
      assert.throws(
        () => store.verify(text),
        (err) => isBargeError(err, 'TOKEN_INVALID') && messages.add(err.message) !== undefined,
        name,
      );
    }
    assert.equal(messages.size, 1, 'the message must not tell the cases apart');
  });

  it('refuses an expired token from the moment it expires', () => {
    const t = store.create({ group: 'cms', expiresAt: later(3600_000) }, NOW);
    assert.equal(store.verify(t.token, later(3599_999)).id, t.id);
    throwsCode(() => store.verify(t.token, later(3600_000)), 'TOKEN_EXPIRED');
  });

  it('refuses a revoked token, and revokes idempotently', () => {
    const t = store.create({ group: 'cms' });
    assert.equal(store.revoke(t.id), true);
    throwsCode(() => store.verify(t.token), 'TOKEN_REVOKED');
    assert.equal(store.revoke(t.id), false);
    assert.ok(store.get(t.id)?.revokedAt instanceof Date);
    throwsCode(() => store.revoke('0123456789abcdef'), 'TOKEN_NOT_FOUND');
  });

  it('says revoked or expired only to the holder of the right secret', () => {
    const t = store.create({ group: 'cms', expiresAt: later(1000) }, NOW);
    store.revoke(t.id);
    const { id } = parseToken(t.token)!;
    throwsCode(() => store.verify(`barge_${id}_${'A'.repeat(43)}`, later(5000)), 'TOKEN_INVALID');
  });

  it('sees a revocation made through another handle on the next verify', () => {
    const t = store.create({ group: 'cms' });
    store.verify(t.token);
    const cli = new TokenStore(tmp.dir);
    try {
      cli.revoke(t.id);
    } finally {
      cli.close();
    }
    throwsCode(() => store.verify(t.token), 'TOKEN_REVOKED');
  });

  it('lists every token with its bookkeeping and never a secret', () => {
    const a = store.create({ group: 'cms', note: 'first' }, NOW);
    const b = store.create({ group: '*', scope: 'admin', repository: 'user.example.org' }, later(1));
    store.revoke(b.id, later(2));
    const list = store.list();
    assert.deepEqual(
      list.map((t) => [t.id, t.group, t.scope, t.repository, t.note, t.revokedAt?.getTime() ?? null]),
      [
        [a.id, 'cms', 'publish', null, 'first', null],
        [b.id, '*', 'admin', 'user.example.org', '', later(2).getTime()],
      ],
    );
    const text = JSON.stringify(list);
    for (const t of [a, b]) {
      assert.ok(!text.includes(parseToken(t.token)!.secret));
      assert.ok(!text.includes(hashSecret(parseToken(t.token)!.secret).toString('hex')));
    }
    assert.deepEqual(Object.keys(list[0]!).sort(), [
      'createdAt',
      'expiresAt',
      'group',
      'id',
      'lastUsedAt',
      'note',
      'repository',
      'revokedAt',
      'scope',
    ]);
  });

  it('records the last use at most once a minute', () => {
    const t = store.create({ group: 'cms' }, NOW);
    assert.equal(store.get(t.id)?.lastUsedAt, null);
    store.verify(t.token, later(1000));
    store.verify(t.token, later(59_000));
    assert.equal(store.get(t.id)?.lastUsedAt?.getTime(), later(1000).getTime());
    store.verify(t.token, later(61_000));
    assert.equal(store.get(t.id)?.lastUsedAt?.getTime(), later(61_000).getTime());
  });

  it('stores only a hash of the secret', () => {
    const t = store.create({ group: 'cms' });
    const secret = parseToken(t.token)!.secret;
    store.close();
    store = new TokenStore(tmp.dir);
    // Every file of the database (the WAL too, if a checkpoint left one), as bytes.
    const dir = path.dirname(tokenStorePath(tmp.dir));
    const bytes = Buffer.concat(
      readdirSync(dir)
        .filter((f) => f.startsWith('tokens.db'))
        .map((f) => readFileSync(path.join(dir, f))),
    );
    assert.ok(bytes.length > 0);
    assert.equal(bytes.indexOf(secret), -1, 'the secret is in the database');
    assert.equal(bytes.indexOf(t.token), -1, 'the token is in the database');
    assert.notEqual(bytes.indexOf(hashSecret(secret)), -1, 'the hash is not where expected');
  });

  it('refuses bad groups, scopes, expiries, notes and repository names', () => {
    const bad: [string, Parameters<TokenStore['create']>[0]][] = [
      ['empty group', { group: '' }],
      ['dot first', { group: '.hidden' }],
      ['slash', { group: 'a/b' }],
      ['too long', { group: 'g'.repeat(65) }],
      ['publish token for all groups', { group: '*' }],
      ['unknown scope', { group: 'cms', scope: 'root' as 'admin' }],
      ['expiry in the past', { group: 'cms', expiresAt: later(-1) }],
      ['expiry now', { group: 'cms', expiresAt: NOW }],
      ['note with newline', { group: 'cms', note: 'a\nb' }],
      ['note too long', { group: 'cms', note: 'x'.repeat(201) }],
    ];
    for (const [name, spec] of bad) {
      assert.throws(
        () => store.create(spec, NOW),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
        name,
      );
    }
    throwsCode(() => store.create({ group: 'cms', repository: 'no-dot' }), 'INVALID_FQRN');
    assert.deepEqual(store.list(), []);
    assert.equal(store.create({ group: 'CMS_user-1.x', note: 'ok' }, NOW).group, 'CMS_user-1.x');
  });

  it('verifies 1,000 times in a row (cheap enough for every request)', () => {
    const tokens = Array.from({ length: 10 }, (_, i) => store.create({ group: `g${i}` }).token);
    for (let i = 0; i < 1000; i++) store.verify(tokens[i % tokens.length]);
  });
});
