import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canAddBindPoints, containerModes, parseApptainerConf } from './apptainer-config.js';
import { modeFromUidMap } from './container-mode.js';

describe('apptainer.conf as Apptainer reads it', () => {
  it('skips comments, keeps the first value of a repeated directive and the value verbatim', () => {
    const conf = parseApptainerConf(
      [
        '# ALLOW SETUID: [BOOL]',
        '#allow setuid = no',
        '  allow setuid = yes',
        'enable overlay=try',
        'enable overlay = no',
        'enable underlay = yes # local change',
        'bind path = /etc/localtime',
        'bind path = /etc/hosts',
        'empty value =',
      ].join('\n'),
    );
    assert.equal(conf.get('allow setuid'), 'yes');
    assert.equal(conf.get('enable overlay'), 'try');
    assert.equal(conf.get('enable underlay'), 'yes # local change');
    assert.equal(conf.get('bind path'), '/etc/localtime');
    assert.equal(conf.has('empty value'), false);
  });

  it('fills in the defaults of Apptainer and of Singularity', () => {
    assert.deepEqual(containerModes(new Map(), 'apptainer'), {
      allowSetuid: true,
      overlay: 'yes',
      underlay: 'yes',
      set: [],
    });
    assert.equal(containerModes(new Map(), 'singularity').overlay, 'try');
    assert.equal(containerModes(new Map([['allow setuid', 'no']]), 'apptainer').allowSetuid, false);
  });

  const table: [string, string, boolean][] = [
    ['yes', 'no', true],
    ['preferred', 'no', true],
    ['no', 'yes', true],
    ['no', 'try', true],
    ['no', 'driver', true],
    ['no', 'no', false],
  ];
  for (const [underlay, overlay, can] of table) {
    it(`${can ? 'adds' : 'cannot add'} bind points with underlay ${underlay} and overlay ${overlay}`, () => {
      assert.equal(canAddBindPoints({ allowSetuid: true, underlay, overlay, set: [] }), can);
    });
  }
});

describe('the container mode from /proc/self/uid_map', () => {
  const table: [string, string][] = [
    ['         0          0 4294967295\n', 'privileged'],
    ['      1000       1000          1\n', 'unprivileged'],
    ['     65534          0          1\n', 'unprivileged'],
    ['         0       1000          1\n', 'fakeroot'],
    ['0 1000 1\n1 100000 65536\n', 'fakeroot'],
    ['', 'unknown'],
    ['cat: /proc/self/uid_map: No such file or directory', 'unknown'],
  ];
  for (const [map, mode] of table) {
    it(`reads ${JSON.stringify(map.split('\n')[0]?.trim())} as ${mode}`, () =>
      assert.equal(modeFromUidMap(map), mode));
  }
});
