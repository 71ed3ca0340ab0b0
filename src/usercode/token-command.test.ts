import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { TokenStore } from './token-store.js';

interface ListedToken {
  id: string;
  group: string;
  scope: string;
  repository: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  note: string;
}

describe('barge token', () => {
  const tmp = tempDir('barge-token-cli-');
  const data = path.join(tmp.dir, 'data');
  after(tmp.cleanup);

  it('creates, lists and revokes tokens, printing the token alone on stdout', () => {
    const created = runBarge([
      'token',
      'create',
      '--group',
      'cms',
      '--expires',
      '30d',
      '--note',
      'crab',
      '--data',
      data,
    ]);
    assert.equal(created.status, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^barge_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /publish token [0-9a-f]{16} for group cms/);

    const admin = runBarge(['token', 'create', '--scope', 'admin', '--repo', 'user.example.org', '--json'], {
      BARGE_DATA: data,
    });
    assert.equal(admin.status, 0, admin.stderr);
    const a = JSON.parse(admin.stdout) as ListedToken & { token: string };
    assert.deepEqual([a.group, a.scope, a.repository, a.expiresAt], ['*', 'admin', 'user.example.org', null]);

    const ls = runBarge(['token', 'ls', '--json', '--data', data]);
    assert.equal(ls.status, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as ListedToken[];
    assert.deepEqual(
      listed.map((t) => [t.group, t.scope, t.note, t.revokedAt]),
      [
        ['cms', 'publish', 'crab', null],
        ['*', 'admin', '', null],
      ],
    );
    assert.ok(!ls.stdout.includes(token.slice(-43)) && !ls.stdout.includes(a.token.slice(-43)));
    const id = listed[0]!.id;

    const table = runBarge(['token', 'ls', '--data', data]);
    assert.match(
      table.stdout,
      /^ID\s+GROUP\s+SCOPE\s+REPOSITORY\s+CREATED\s+EXPIRES\s+LAST USED\s+REVOKED\s+NOTE\n/,
    );
    assert.match(table.stdout, new RegExp(`${id}\\s+cms\\s+publish\\s+-\\s`));

    // The token the CLI printed is the one the server's store accepts, until it is revoked.
    const store = new TokenStore(data);
    try {
      assert.equal(store.verify(token).id, id);
      const revoked = runBarge(['token', 'revoke', id, '--data', data]);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.equal(revoked.stdout.trim(), `revoked token ${id}`);
      assert.throws(() => store.verify(token), /revoked/);
    } finally {
      store.close();
    }
    assert.match(runBarge(['token', 'revoke', id, '--data', data]).stdout, /already revoked/);
    const after = JSON.parse(runBarge(['token', 'ls', '--json', '--data', data]).stdout) as ListedToken[];
    assert.ok(after[0]?.revokedAt);
  });

  it('refuses bad usage with exit 2 and an unknown id with exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['token'], /unknown token subcommand/],
      [['token', 'frob'], /unknown token subcommand/],
      [['token', 'create'], /needs --group/],
      [['token', 'create', '--group', '*'], /only admin tokens/],
      [['token', 'create', '--group', 'cms', '--scope', 'root'], /not a token scope/],
      [['token', 'create', '--group', 'cms', '--expires', 'soon'], /not a token lifetime/],
      [['token', 'create', '--group', '../x'], /not a valid group name/],
      [['token', 'revoke'], /wrong number of arguments/],
    ];
    for (const [args, message] of cases) {
      const r = runBarge([...args, '--data', data]);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    const r = runBarge(['token', 'revoke', '0123456789abcdef', '--data', data]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /TOKEN_NOT_FOUND/);
  });
});
