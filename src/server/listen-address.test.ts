import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { parseListen } from './listen-address.js';

describe('parseListen', () => {
  const cases: [string, { host: string; port: number }][] = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    [':80', { host: '0.0.0.0', port: 80 }],
    ['8080', { host: '0.0.0.0', port: 8080 }],
    ['localhost:3000', { host: 'localhost', port: 3000 }],
  ];
  for (const [text, expected] of cases) {
    it(`reads '${text}'`, () => assert.deepEqual(parseListen(text), expected));
  }
  for (const text of ['127.0.0.1', '1.2.3.4:70000', 'a:b', '::1:80']) {
    it(`refuses '${text}'`, () => {
      assert.throws(
        () => parseListen(text),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
      );
    });
  }
});
