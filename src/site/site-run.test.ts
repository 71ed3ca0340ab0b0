import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BARGE_BIN, runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';
import { modeFromUidMap } from './container-mode.js';
import type { RunReport } from './site-run.js';

const FQRN = 'images.site.test';
const OS_RELEASE = 'NAME="barge site test"\nID=barge-site-test\nVERSION_ID="1"\n';

// The real parts: bubblewrap and a static busybox (Debian's bubblewrap and busybox-static, which
// .ci/run installs). Off CI a machine without them skips; on CI their absence fails.
const hasBwrap = ['/usr/bin/bwrap', '/bin/bwrap'].some((p) => existsSync(p));
const staticBusybox = existsSync('/bin/busybox') && spawnSync('ldd', ['/bin/busybox']).status !== 0;
const skip = !process.env.CI && !(hasBwrap && staticBusybox) && 'needs bubblewrap and busybox-static';

function reportOf(stderr: string): RunReport {
  const line = stderr.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON report in: ${stderr}`);
  return JSON.parse(line) as RunReport;
}

describe('barge site run with bubblewrap, of an image pulled from a barge repository', { skip }, () => {
  const tmp = tempDir('barge-site-run-');
  const data = path.join(tmp.dir, 'data');
  const image = path.join(tmp.dir, 'image');
  const env = { BARGE_DATA: data };

  before(() => {
    // A tiny root: a static busybox and its applets, and an os-release to read back.
    const root = path.join(tmp.dir, 'rootfs');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'etc'));
    copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
    chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'cat', 'id', 'kill']) symlinkSync('busybox', path.join(root, 'bin', applet));
    symlinkSync('bin', path.join(root, 'sbin'));
    writeFileSync(path.join(root, 'etc', 'os-release'), OS_RELEASE);
    for (const args of [
      ['init', FQRN],
      ['publish', FQRN, root],
      ['pull', FQRN, image, '--key', path.join(data, 'keys', `${FQRN}.pub`)],
    ]) {
      const r = runBarge(args, env);
      assert.equal(r.status, 0, `barge ${args[0]}: ${r.stderr}`);
    }
    chmodSync(tmp.dir, 0o755); // the unprivileged run below reads the image as nobody
  });
  after(tmp.cleanup);

  it('runs cat /etc/os-release in the image, says which runtime and why, and exits 0', () => {
    const r = runBarge(['site', 'run', image, '--runtime', 'bwrap', '--', 'cat', '/etc/os-release']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, OS_RELEASE);
    assert.match(
      r.stderr,
      /^barge site run: bwrap \(bubblewrap requested; bubblewrap at \S+ runs .*\), mode (privileged|unprivileged) \(uid_map /m,
    );
  });

  it('passes a failing command status through, and a signal as 128 + its number', () => {
    assert.equal(
      runBarge(['site', 'run', image, '--runtime', 'bwrap', '--', 'sh', '-c', 'exit 42']).status,
      42,
    );
    assert.equal(
      runBarge(['site', 'run', image, '--runtime', 'bwrap', '--', 'sh', '-c', 'kill -TERM $$']).status,
      143,
    );
    assert.equal(runBarge(['site', 'run', image, '--runtime', 'bwrap', '--', '/no/such/command']).status, 1);
  });

  it('reports its choice as JSON: bwrap when no Apptainer is found, with the mode from the uid_map', (t) => {
    // PATH without any Apptainer, and no /cvmfs on this machine: the baseline's last resort.
    const apptainer = ['/usr/bin', '/bin'].some(
      (d) => existsSync(`${d}/apptainer`) || existsSync(`${d}/singularity`),
    );
    if (apptainer || existsSync('/cvmfs')) return t.skip('this machine has an Apptainer or /cvmfs');
    const r = runBarge(['site', 'run', image, '--json', '--', 'cat', '/proc/self/uid_map'], {
      PATH: '/usr/bin:/bin',
    });
    assert.equal(r.status, 0, r.stderr);
    const report = reportOf(r.stderr);
    assert.equal(report.runtime, 'bwrap');
    assert.match(report.why, /^no usable Apptainer; bubblewrap at/);
    assert.ok(report.passedOver.some((p) => p.startsWith('apptainer-cvmfs:')));
    assert.equal(report.uidMap, r.stdout.trim().replace(/\s+/g, ' '));
    assert.equal(report.mode, modeFromUidMap(r.stdout));
    assert.equal(report.mode, process.getuid?.() === 0 ? 'privileged' : 'unprivileged');
    assert.equal(report.cvmfsBound, null);
  });

  it('runs unprivileged, in a user namespace, when started by nobody', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to start as nobody');
    const probe = spawnSync(
      process.execPath,
      ['-e', `require('fs').readFileSync(${JSON.stringify(BARGE_BIN)})`],
      {
        uid: 65534,
        gid: 65534,
      },
    );
    if (probe.status !== 0) return t.skip('nobody cannot read this checkout');
    const r = runBarge(
      ['site', 'run', image, '--runtime', 'bwrap', '--json', '--', 'id', '-u'],
      { HOME: '/' },
      { uid: 65534, gid: 65534 },
    );
    if (/needs user namespaces/.test(r.stderr)) return t.skip('no unprivileged user namespaces here');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '65534');
    assert.equal(reportOf(r.stderr).mode, 'unprivileged');
  });

  it('refuses what is not an image root, and an unknown runtime', () => {
    assert.match(runBarge(['site', 'run', path.join(tmp.dir, 'nope')]).stderr, /IMAGE_NOT_FOUND/);
    assert.match(runBarge(['site', 'run', data]).stderr, /IMAGE_INVALID/);
    const r = runBarge(['site', 'run', image, '--runtime', 'docker']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown runtime 'docker'/);
  });
});
