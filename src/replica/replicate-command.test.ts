import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURE_FQRN, FIXTURE_PUB, FIXTURE_SERVED } from '../testing/fixture.js';
import { BARGE_BIN, runBarge } from '../testing/run-barge.js';
import { tempDir } from '../testing/temp-dir.js';

/** `barge replicate` on the command line: usage errors, one snapshot, and --loop until SIGTERM. */
describe('barge replicate', () => {
  const tmp = tempDir();
  after(tmp.cleanup);

  const cases: { what: string; args: string[]; status: number; error: RegExp }[] = [
    { what: 'no --key', args: [FIXTURE_SERVED, FIXTURE_FQRN], status: 1, error: /KEY_NOT_FOUND/ },
    {
      what: '--parallel 0',
      args: [FIXTURE_SERVED, FIXTURE_FQRN, '--key', FIXTURE_PUB, '--parallel', '0'],
      status: 2,
      error: /--parallel/,
    },
    {
      what: 'a name without a dot',
      args: [FIXTURE_SERVED, 'nodot', '--key', FIXTURE_PUB],
      status: 1,
      error: /INVALID_FQRN/,
    },
    {
      what: "a name the source's manifest does not carry",
      args: [FIXTURE_SERVED, 'other.example.org', '--key', FIXTURE_PUB],
      status: 1,
      error: /FQRN_MISMATCH/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.what} (${c.error.source})`, () => {
      const r = runBarge(['replicate', ...c.args, '--data', path.join(tmp.dir, 'refused')]);
      assert.equal(r.status, c.status, r.stderr);
      assert.match(r.stderr, c.error);
    });
  }

  it('takes a snapshot and says what it fetched', () => {
    const data = path.join(tmp.dir, 'once');
    const r = runBarge(['replicate', FIXTURE_SERVED, FIXTURE_FQRN, '--key', FIXTURE_PUB, '--data', data]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^replicated reference\.cvmfs\.test revision 3 in [\d.]+ s: \d+ objects fetched/);
    assert.ok(existsSync(path.join(data, 'repos', FIXTURE_FQRN, '.cvmfs_last_snapshot')));
  });

  it('snapshots again every --loop seconds until SIGTERM, then exits 0', async () => {
    const data = path.join(tmp.dir, 'loop');
    const child = spawn(
      process.execPath,
      [
        BARGE_BIN,
        'replicate',
        FIXTURE_SERVED,
        FIXTURE_FQRN,
        '--key',
        FIXTURE_PUB,
        '--data',
        data,
        '--loop',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no second round in 120 s: ${out}${err}`)), 120_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (/is current at revision 3/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.match(out, /^replicated reference\.cvmfs\.test revision 3/);
  });
});
