import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../../error/index.js';
import { formatImageReference, parseImageReference } from './image-reference.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseImageReference', () => {
  // text, registry, repository, tag, digest, canonical form, display form
  const cases: [string, string, string, string | undefined, string | undefined, string, string][] = [
    [
      'ubuntu',
      'registry-1.docker.io',
      'library/ubuntu',
      'latest',
      undefined,
      'docker.io/library/ubuntu:latest',
      'registry.hub.docker.com/library/ubuntu:latest',
    ],
    [
      'ubuntu:22.04',
      'registry-1.docker.io',
      'library/ubuntu',
      '22.04',
      undefined,
      'docker.io/library/ubuntu:22.04',
      'registry.hub.docker.com/library/ubuntu:22.04',
    ],
    [
      'docker.io/library/ubuntu:22.04',
      'registry-1.docker.io',
      'library/ubuntu',
      '22.04',
      undefined,
      'docker.io/library/ubuntu:22.04',
      'registry.hub.docker.com/library/ubuntu:22.04',
    ],
    [
      'index.docker.io/ubuntu',
      'registry-1.docker.io',
      'library/ubuntu',
      'latest',
      undefined,
      'docker.io/library/ubuntu:latest',
      'registry.hub.docker.com/library/ubuntu:latest',
    ],
    [
      'https://registry.hub.docker.com/library/centos:7',
      'registry-1.docker.io',
      'library/centos',
      '7',
      undefined,
      'docker.io/library/centos:7',
      'registry.hub.docker.com/library/centos:7',
    ],
    [
      'rootproject/root:6.30.04-ubuntu22.04',
      'registry-1.docker.io',
      'rootproject/root',
      '6.30.04-ubuntu22.04',
      undefined,
      'docker.io/rootproject/root:6.30.04-ubuntu22.04',
      'registry.hub.docker.com/rootproject/root:6.30.04-ubuntu22.04',
    ],
    ['ghcr.io/org/app:v1', 'ghcr.io', 'org/app', 'v1', undefined, 'ghcr.io/org/app:v1', 'ghcr.io/org/app:v1'],
    [
      'gitlab-registry.cern.ch/a/b/c',
      'gitlab-registry.cern.ch',
      'a/b/c',
      'latest',
      undefined,
      'gitlab-registry.cern.ch/a/b/c:latest',
      'gitlab-registry.cern.ch/a/b/c:latest',
    ],
    [
      'localhost/app',
      'localhost',
      'app',
      'latest',
      undefined,
      'localhost/app:latest',
      'localhost/app:latest',
    ],
    [
      `localhost:5000/ns/repo@${DIGEST}`,
      'localhost:5000',
      'ns/repo',
      undefined,
      DIGEST,
      `localhost:5000/ns/repo@${DIGEST}`,
      `localhost:5000/ns/repo@${DIGEST}`,
    ],
    [
      `host:5000/ns/repo:1.0@${DIGEST}`,
      'host:5000',
      'ns/repo',
      '1.0',
      DIGEST,
      `host:5000/ns/repo:1.0@${DIGEST}`,
      `host:5000/ns/repo:1.0@${DIGEST}`,
    ],
    [
      '127.0.0.1:5000/a_b/c-d.e:x',
      '127.0.0.1:5000',
      'a_b/c-d.e',
      'x',
      undefined,
      '127.0.0.1:5000/a_b/c-d.e:x',
      '127.0.0.1:5000/a_b/c-d.e:x',
    ],
    ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined, '[::1]:5000/app:1', '[::1]:5000/app:1'],
    [
      'Registry.Example.org/app',
      'registry.example.org',
      'app',
      'latest',
      undefined,
      'registry.example.org/app:latest',
      'registry.example.org/app:latest',
    ],
  ];
  for (const [text, registry, repository, tag, digest, canonical, display] of cases) {
    it(`reads '${text}'`, () => {
      const ref = parseImageReference(text);
      assert.deepEqual(
        { registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest },
        { registry, repository, tag, digest },
      );
      assert.equal(formatImageReference(ref), canonical);
      assert.equal(formatImageReference(ref, 'display'), display);
    });
  }

  it('keeps the scheme of the DUCC form', () => {
    assert.equal(parseImageReference('https://ghcr.io/a/b').scheme, 'https');
    assert.equal(parseImageReference('http://10.0.0.1:5000/a').scheme, 'http');
    assert.equal(parseImageReference('ghcr.io/a/b').scheme, undefined);
  });

  it('names the repository without tag or digest', () => {
    assert.equal(
      formatImageReference(parseImageReference('ubuntu:22.04'), 'repository'),
      'docker.io/library/ubuntu',
    );
  });

  const invalid = [
    '',
    'ubuntu:',
    'ubuntu@sha256:abc',
    `ubuntu@md5:${'a'.repeat(32)}`,
    'a//b',
    'Ubuntu',
    'UPPER/Case',
    'ubuntu:tag with space',
    ':tag',
    'ubuntu:*',
    'bad_host!/x',
    `ghcr.io/${'a'.repeat(250)}`,
  ];
  for (const text of invalid) {
    it(`refuses '${text}'`, () => {
      assert.throws(
        () => parseImageReference(text),
        (err) => isBargeError(err, 'IMAGE_REFERENCE_INVALID') && err.message.includes(`'${text}'`),
      );
    });
  }

  it('accepts wildcard tags only when asked (DUCC wishlists)', () => {
    assert.equal(parseImageReference('ubuntu:22.*', { allowWildcardTag: true }).tag, '22.*');
    assert.equal(parseImageReference('ubuntu:*', { allowWildcardTag: true }).tag, '*');
  });
});
