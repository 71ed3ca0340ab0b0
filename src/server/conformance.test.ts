import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from './index.js';

// The repository written by the real cvmfs_server (shared/fixtures), served by barge, must pass
// the conformance checker in --strict mode, which also checks the HTTP headers of what it fetched.

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const fixture = path.join(shared, 'fixtures', 'reference.cvmfs.test');
const checker = path.join(shared, 'tools', 'cvmfs-conformance.py');

/** The fixture is read-only; a copy needs write permission on its directories to be removed. */
async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(full);
    else if (entry.isFile()) await chmod(full, 0o644);
  }
}

describe('serving the reference repository', () => {
  let dataDir: string;
  let server: RunningServer;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'barge-conformance-'));
    const repo = path.join(dataDir, 'repos', 'reference.cvmfs.test');
    await mkdir(path.dirname(repo), { recursive: true });
    await cp(path.join(fixture, 'served'), repo, { recursive: true });
    await makeWritable(repo);
    server = await startServer({ dataDir, listen: '127.0.0.1:0' });
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('passes cvmfs-conformance.py --strict over HTTP', async () => {
    const args = [
      checker,
      `${server.url}/cvmfs/reference.cvmfs.test`,
      '--key',
      path.join(fixture, 'reference.cvmfs.test.pub'),
      '--strict',
    ];
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile('python3', args, { timeout: 120_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      });
    });
    assert.equal(result.code, 0, result.out);
    assert.match(result.out, /conformant/);
  });
});
