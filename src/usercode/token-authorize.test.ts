import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { type AccessRequest, authorize, isGroupName } from './token-authorize.js';
import type { TokenInfo } from './token-store.js';

const token = (group: string, scope: TokenInfo['scope'], repository: string | null = null): TokenInfo => ({
  id: '0123456789abcdef',
  group,
  scope,
  repository,
  expiresAt: null,
  createdAt: new Date(0),
});

const REPO = 'user.example.org';
const OTHER_REPO = 'other.example.org';

/** [token, request, allowed]: the authorization matrix. */
const MATRIX: [string, TokenInfo, AccessRequest, boolean][] = [
  ['publish token, own group', token('cms', 'publish'), { group: 'cms', need: 'publish' }, true],
  ['publish token, other group', token('cms', 'publish'), { group: 'atlas', need: 'publish' }, false],
  ['publish token, group differs in case', token('cms', 'publish'), { group: 'CMS', need: 'publish' }, false],
  ['publish token, admin work in own group', token('cms', 'publish'), { group: 'cms', need: 'admin' }, false],
  ['publish token, global work', token('cms', 'publish'), { need: 'publish' }, false],
  ['group admin, own group', token('cms', 'admin'), { group: 'cms', need: 'admin' }, true],
  ['group admin, publish own group', token('cms', 'admin'), { group: 'cms', need: 'publish' }, true],
  ['group admin, other group', token('cms', 'admin'), { group: 'atlas', need: 'admin' }, false],
  ['group admin, token management', token('cms', 'admin'), { need: 'admin' }, false],
  ['admin of all, any group publish', token('*', 'admin'), { group: 'atlas', need: 'publish' }, true],
  ['admin of all, any group admin', token('*', 'admin'), { group: 'lhcb', need: 'admin' }, true],
  ['admin of all, token management', token('*', 'admin'), { need: 'admin' }, true],
  [
    'unrestricted token, any repository',
    token('cms', 'publish'),
    { group: 'cms', need: 'publish', repository: REPO },
    true,
  ],
  [
    'restricted token, its repository',
    token('cms', 'publish', REPO),
    { group: 'cms', need: 'publish', repository: REPO },
    true,
  ],
  [
    'restricted token, other repository',
    token('cms', 'publish', REPO),
    { group: 'cms', need: 'publish', repository: OTHER_REPO },
    false,
  ],
  [
    'restricted token, repository unnamed',
    token('cms', 'publish', REPO),
    { group: 'cms', need: 'publish' },
    false,
  ],
  [
    'restricted admin of all, other repository',
    token('*', 'admin', REPO),
    { need: 'admin', repository: OTHER_REPO },
    false,
  ],
];

describe('authorize', () => {
  for (const [name, info, request, allowed] of MATRIX) {
    it(`${allowed ? 'allows' : 'forbids'}: ${name}`, () => {
      if (allowed) authorize(info, request);
      else
        assert.throws(
          () => authorize(info, request),
          (err) => isBargeError(err, 'FORBIDDEN'),
        );
    });
  }

  it('refuses a request group that is not a group name, so `*` cannot be asked for', () => {
    for (const group of ['*', '', '../cms', 'a/b']) {
      assert.throws(
        () => authorize(token('*', 'admin'), { group, need: 'publish' }),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
        group,
      );
    }
  });

  it('accepts group names that are safe path components and nothing else', () => {
    assert.deepEqual(['cms', 'CMS_user-1.x', '0', 'g'.repeat(64)].map(isGroupName), [true, true, true, true]);
    assert.deepEqual(
      ['', '.', '..', '.cms', '-cms', 'a b', 'a/b', 'ü', 'g'.repeat(65)].map(isGroupName),
      Array(9).fill(false),
    );
  });
});
