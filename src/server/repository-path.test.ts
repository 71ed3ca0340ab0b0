import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { isFqrn, parseRepositoryPath } from './repository-path.js';

describe('isFqrn', () => {
  const cases: [string, boolean][] = [
    ['atlas.cern.ch', true],
    ['reference.cvmfs.test', true],
    ['unpacked.cern.ch', true],
    ['my_repo.example-org.io', true],
    ['Atlas.CERN.ch', false],
    ['x-.cern.ch', false],
    ['info', false],
    ['.cern.ch', false],
    ['cern..ch', false],
    ['-x.cern.ch', false],
    ['..', false],
    ['a.b/c', false],
    ['', false],
  ];
  for (const [name, expected] of cases) {
    it(`${expected ? 'accepts' : 'rejects'} '${name}'`, () => assert.equal(isFqrn(name), expected));
  }
});

describe('parseRepositoryPath', () => {
  it('decodes a served file', () => {
    assert.deepEqual(parseRepositoryPath('a.b.c', 'data/ab/cd%20ef'), {
      fqrn: 'a.b.c',
      key: 'data/ab/cd ef',
    });
  });

  const notServed: [string, string][] = [
    ['info', 'v1/meta.json'],
    ['a.b.c', ''],
    ['a.b.c', 'data/'],
    ['a.b.c', 'data/txn'],
    ['a.b.c', 'data/txn/abc.tmp'],
  ];
  for (const [fqrn, key] of notServed) {
    it(`does not serve '${fqrn}' '${key}'`, () => assert.equal(parseRepositoryPath(fqrn, key), undefined));
  }

  const refused: [string, string][] = [
    ['..', 'etc/passwd'],
    ['a.b.c', '../x'],
    ['a.b.c', 'data/../../x'],
    ['a.b.c', '%2e%2e/x'],
    ['a.b.c', '%2E%2E%2Fx'],
    ['a.b.c', './x'],
    ['a.b.c', '/etc/passwd'],
    ['a.b.c', 'data//x'],
    ['a.b.c', 'x%00y'],
    ['a.b.c', '..%5cx'],
    ['a.b.c', 'x\\y'],
    ['a.b.c%2f..', 'x'],
    ['a.b.c', '%zz'],
  ];
  for (const [fqrn, key] of refused) {
    it(`refuses '${fqrn}' '${key}' as INVALID_PATH`, () => {
      assert.throws(
        () => parseRepositoryPath(fqrn, key),
        (err) => isBargeError(err, 'INVALID_PATH'),
      );
    });
  }
});
