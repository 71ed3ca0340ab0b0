import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from './www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it("reads Docker Hub's bearer challenge", () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"';
    assert.deepEqual(parseWwwAuthenticate(header), [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/ubuntu:pull',
        },
      },
    ]);
  });

  it('reads several challenges, unquoted values and escapes', () => {
    const header =
      'Basic realm="Registry \\"A\\"", Bearer realm=https://t.example/token , service=reg, error="insufficient_scope"';
    assert.deepEqual(parseWwwAuthenticate(header), [
      { scheme: 'basic', params: { realm: 'Registry "A"' } },
      {
        scheme: 'bearer',
        params: { realm: 'https://t.example/token', service: 'reg', error: 'insufficient_scope' },
      },
    ]);
  });

  it('lower-cases schemes and parameter names', () => {
    assert.deepEqual(parseWwwAuthenticate('BASIC Realm="x"'), [{ scheme: 'basic', params: { realm: 'x' } }]);
  });

  it('gives nothing for an empty header', () => {
    assert.deepEqual(parseWwwAuthenticate(''), []);
  });
});
