import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { formatPlatform, normalizePlatform, parsePlatform, platformMatches } from './platform.js';

describe('platforms', () => {
  it('parses and formats os/architecture[/variant]', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
    for (const bad of ['linux', 'linux/amd64/v1/x', 'linux//amd64', 'linux/amd 64']) {
      assert.throws(
        () => parsePlatform(bad),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
      );
    }
  });

  // want, have, matches
  const cases: [string, string, boolean][] = [
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/amd64', 'linux/amd64/v1', true],
    ['linux/amd64', 'linux/amd64/v3', false],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/aarch64', 'linux/arm64', true],
    ['linux/arm', 'linux/arm/v7', true],
    ['linux/armhf', 'linux/arm/v7', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/ppc64le', 'linux/s390x', false],
  ];
  for (const [want, have, matches] of cases) {
    it(`${want} ${matches ? 'matches' : 'does not match'} ${have}`, () => {
      assert.equal(platformMatches(parsePlatform(want), parsePlatform(have)), matches);
    });
  }

  it('normalises aliases as containerd does', () => {
    assert.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'i386' }), {
      os: 'linux',
      architecture: '386',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armel' }), {
      os: 'linux',
      architecture: 'arm',
      variant: 'v6',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm', variant: '7' }), {
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
  });
});
