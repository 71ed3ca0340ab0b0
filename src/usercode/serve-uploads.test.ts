import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { BARGE_BIN, runBarge } from '../testing/run-barge.js';
import { buildTar } from '../testing/tar-builder.js';
import { tempDir } from '../testing/temp-dir.js';

const FQRN = 'fifeuser2.example.org';

/** One HTTPS request trusting only `ca`. */
function request(
  url: string,
  ca: string,
  options: { method?: string; token?: string; body?: Buffer } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        ca,
        method: options.method ?? 'GET',
        headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('barge serve: the upload API over TLS, from the CLI, tokens from barge token', () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'data');
  let server: ChildProcess;
  let url: string;
  let ca: string;
  let token: string;

  before(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=barge-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(tmp.dir, 'key.pem'),
        '-out',
        path.join(tmp.dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(path.join(tmp.dir, 'cert.pem'), 'utf8');
    assert.equal(runBarge(['init', FQRN, '--data', data]).status, 0);
    const enable = runBarge([
      'uploads',
      'enable',
      FQRN,
      '--prefix',
      'sw',
      '--expiry-days',
      '30',
      '--data',
      data,
    ]);
    assert.equal(enable.status, 0, enable.stderr);
    const created = runBarge(['token', 'create', '--group', 'nova', '--data', data]);
    assert.equal(created.status, 0, created.stderr);
    token = created.stdout.trim();
    server = spawn(
      process.execPath,
      [
        BARGE_BIN,
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--data',
        data,
        '--tls-cert',
        path.join(tmp.dir, 'cert.pem'),
        '--tls-key',
        path.join(tmp.dir, 'key.pem'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    url = await new Promise<string>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => {
        const m = /at (https:\/\/[^ ]+)\/cvmfs\//.exec(chunk.toString());
        if (m?.[1]) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
  });
  after(() => {
    server?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('publishes over HTTPS into the configured prefix; ls, pin and expire work from the CLI', async () => {
    const tarball = zlib.gzipSync(buildTar([{ name: 'setup.sh', mode: 0o755, content: 'export NOVA=1\n' }]));
    const cid = `nova/${createHash('sha256').update(tarball).digest('hex')}`;
    assert.equal((await request(`${url}/pubapi/config`, ca)).body, `repos:${FQRN}\n`);
    const r = await request(`${url}/pubapi/publish?cid=${encodeURIComponent(cid)}`, ca, {
      method: 'POST',
      token,
      body: tarball,
    });
    assert.equal(r.body, 'OK\n');
    const e = await request(`${url}/pubapi/exists?cid=${encodeURIComponent(cid)}`, ca, { token });
    assert.equal(e.body, `PRESENT:/cvmfs/${FQRN}/sw/${cid}\n`);
    // The data is served over the same TLS port.
    assert.equal((await request(`${url}/cvmfs/${FQRN}/.cvmfspublished`, ca)).status, 200);
    const ls = runBarge(['uploads', 'ls', FQRN, '--json', '--data', data]);
    assert.equal(ls.status, 0, ls.stderr);
    const rows = JSON.parse(ls.stdout) as { cid: string; state: string; pinned: boolean }[];
    assert.deepEqual(
      rows.map((u) => [u.cid, u.state, u.pinned]),
      [[cid, 'published', false]],
    );
    assert.equal(runBarge(['uploads', 'pin', FQRN, cid, '--data', data]).status, 0);
    assert.equal(
      JSON.parse(runBarge(['uploads', 'ls', FQRN, '--json', '--data', data]).stdout)[0].pinned,
      true,
    );
    // Nothing is idle for 30 days: expire removes nothing and publishes no revision.
    const ex = runBarge(['uploads', 'expire', FQRN, '--json', '--data', data]);
    assert.equal(ex.status, 0, ex.stderr);
    assert.deepEqual(JSON.parse(ex.stdout).removed, []);
    assert.match(runBarge(['uploads', 'pin', FQRN, 'nova/abc', '--data', data]).stderr, /INVALID_ARGUMENT/);
    // Plain HTTP to the TLS port is not answered as HTTP.
    await assert.rejects(fetch(url.replace('https:', 'http:') + '/pubapi/ping'));
  });
});
