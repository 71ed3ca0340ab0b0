import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { statusForError } from '../server/error-status.js';
import { tempDir } from '../testing/temp-dir.js';
import { authErrorHeaders, authenticate, bearerToken } from './authenticate.js';
import { TokenStore } from './token-store.js';

describe('bearerToken', () => {
  it('takes the token of a Bearer Authorization header, whatever the case of the scheme', () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ['Bearer barge_x_y', 'barge_x_y'],
      ['bearer abc', 'abc'],
      ['BEARER   abc  ', 'abc'],
      ['Bearer', ''],
      ['Bearer a b', 'a b'],
      ['Basic dXNlcjpwYXNz', undefined],
      ['Bearerabc', undefined],
      ['', undefined],
    ];
    for (const [header, token] of cases) {
      assert.equal(bearerToken(header === undefined ? {} : { authorization: header }), token, String(header));
    }
  });
});

describe('authenticate and its error answers', () => {
  it('maps each failure to 401 or 403 with an RFC 6750 challenge', () => {
    const tmp = tempDir('barge-auth-');
    const store = new TokenStore(tmp.dir);
    try {
      const t = store.create({ group: 'cms' });
      assert.equal(authenticate(store, { authorization: `Bearer ${t.token}` }).group, 'cms');
      const failure = (headers: Record<string, string>) => {
        try {
          authenticate(store, headers);
        } catch (err) {
          return { status: statusForError(err), headers: authErrorHeaders(err) };
        }
        assert.fail('authenticated');
      };
      assert.deepEqual(failure({}), {
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="barge"', 'Cache-Control': 'no-store' },
      });
      assert.deepEqual(failure({ authorization: 'Basic dXNlcjpwYXNz' }).status, 401);
      const bad = failure({ authorization: 'Bearer barge_nope' });
      assert.equal(bad.status, 401);
      assert.match(bad.headers['WWW-Authenticate'] ?? '', /^Bearer realm="barge", error="invalid_token"/);
      store.revoke(t.id);
      const revoked = failure({ authorization: `Bearer ${t.token}` });
      assert.equal(revoked.status, 401);
      assert.match(revoked.headers['WWW-Authenticate'] ?? '', /error="invalid_token"/);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });

  it('answers FORBIDDEN with 403 and insufficient_scope, other errors with no challenge', () => {
    const forbidden = new BargeError('FORBIDDEN', 'no');
    assert.equal(statusForError(forbidden), 403);
    assert.match(authErrorHeaders(forbidden)['WWW-Authenticate'] ?? '', /error="insufficient_scope"/);
    for (const code of ['TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TOKEN_INVALID', 'TOKEN_MISSING'] as const) {
      assert.equal(statusForError(new BargeError(code, 'x')), 401, code);
    }
    assert.equal(statusForError(new BargeError('TOKEN_NOT_FOUND', 'x')), 404);
    assert.deepEqual(authErrorHeaders(new BargeError('INVALID_ARGUMENT', 'x')), {});
    assert.deepEqual(authErrorHeaders(new Error('x')), {});
  });
});
