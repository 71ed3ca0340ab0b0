import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter } from './backoff.js';
import { proxyFor } from './proxy-for.js';

describe('proxyFor', () => {
  const env = {
    https_proxy: 'http://squid:3128',
    http_proxy: 'http://plain:3128',
    no_proxy: '.cern.ch,quay.io:443',
  };
  // url, proxy expected
  const cases: [string, string | undefined][] = [
    ['https://ghcr.io/v2/', 'http://squid:3128'],
    ['http://registry.example.org/v2/', 'http://plain:3128'],
    ['https://gitlab-registry.cern.ch/v2/', undefined],
    ['https://quay.io/v2/', undefined],
    ['https://127.0.0.1:5000/v2/', undefined],
    ['http://localhost:5000/v2/', undefined],
    ['http://[::1]:5000/v2/', undefined],
  ];
  for (const [url, expected] of cases) {
    it(`${url} → ${expected ?? 'direct'}`, () => assert.equal(proxyFor(new URL(url), env), expected));
  }

  it('reads HTTPS_PROXY but never upper-case HTTP_PROXY (httpoxy)', () => {
    assert.equal(proxyFor(new URL('https://ghcr.io/'), { HTTPS_PROXY: 'http://up:1' }), 'http://up:1');
    assert.equal(proxyFor(new URL('http://example.org/'), { HTTP_PROXY: 'http://evil:1' }), undefined);
  });
});

describe('backoff', () => {
  it('reads Retry-After as seconds or as a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('soon'), undefined);
  });

  it('grows exponentially with jitter, capped, never below Retry-After', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, backoffMs: 100, maxBackoffMs: 1000 };
    for (let i = 0; i < 50; i++) {
      const d0 = backoffDelay(policy, 0);
      const d3 = backoffDelay(policy, 3);
      assert.ok(d0 >= 50 && d0 <= 100, `${d0}`);
      assert.ok(d3 >= 400 && d3 <= 800, `${d3}`);
      assert.ok(backoffDelay(policy, 10) <= 1000);
      assert.ok(backoffDelay(policy, 0, 5000) >= 5000);
    }
  });
});
