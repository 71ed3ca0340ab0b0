import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeLabel, uploadApiOf } from './route-label.js';

describe('route labels: bounded, whatever the path', () => {
  const cases: [string, string][] = [
    ['/cvmfs/info/v1/repositories.json', '/cvmfs/info/v1/repositories.json'],
    ['/cvmfs/sw.example.org/data/ab/cdef0123C', '/cvmfs/:fqrn/data/*'],
    ['/cvmfs/sw.example.org/.cvmfspublished', '/cvmfs/:fqrn/.cvmfs*'],
    ['/cvmfs/sw.example.org/anything/else', '/cvmfs/:fqrn/*'],
    ['/pubapi/publish', '/pubapi/publish'],
    ['//pubapi/exists', '/pubapi/exists'],
    ['/pubapi/whatever-a-scanner-tries', '/pubapi/:op'],
    ['/api/v1/uploads/cms/0123abcd/pin', '/api/v1/uploads/:group/:digest/pin'],
    ['/api/v1/uploads/cms/0123abcd', '/api/v1/uploads/:group/:digest'],
    ['/api/v1/uploads/cms', '/api/v1/uploads/:group'],
    ['/api/v1/images', '/api/v1/images'],
    ['/api/v1/ui/repositories', '/api/v1/ui/repositories'],
    ['/api/v1/ui/repositories/sw.example.org/files', '/api/v1/ui/repositories/:fqrn/files'],
    ['/metrics', '/metrics'],
    ['/readyz', '/readyz'],
    ['/ui', '/ui/'],
    ['/ui/', '/ui/'],
    ['/ui/assets/index-abc123.js', '/ui/assets/*'],
    ['/wp-login.php', 'other'],
    ['/api/v1/ui/repositories/x/unknown', 'other'],
  ];
  for (const [path, label] of cases) {
    it(`${path} → ${label}`, () => assert.equal(routeLabel(path), label));
  }

  it('tells upload requests from the rest', () => {
    assert.equal(uploadApiOf('POST', '/pubapi/publish'), 'pubapi');
    assert.equal(uploadApiOf('PUT', '/api/v1/uploads/cms/abc'), 'v1');
    assert.equal(uploadApiOf('GET', '/api/v1/uploads/cms/abc'), undefined);
    assert.equal(uploadApiOf('PUT', '/api/v1/uploads/cms/abc/pin'), undefined);
  });
});
