import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from './index.js';

// Security regressions: requests that try to read outside <dataDir>/repos. Each is sent over a
// raw socket, byte for byte, because HTTP clients normalise `..` and encodings before sending.

const SECRET = 'secret-outside-the-repositories';

/** Sends one raw request line and returns the status code and the whole response text. */
function rawRequest(server: RunningServer, target: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`, 'latin1');
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.on('error', reject);
  });
}

describe('path traversal', () => {
  let dataDir: string;
  let server: RunningServer;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'barge-traversal-'));
    const repo = path.join(dataDir, 'repos', 'test.barge.io');
    await mkdir(path.join(repo, 'data', 'ab'), { recursive: true });
    await writeFile(path.join(repo, '.cvmfspublished'), 'manifest');
    await writeFile(path.join(dataDir, 'secret'), SECRET);
    await writeFile(path.join(dataDir, 'repos', 'secret'), SECRET);
    server = await startServer({ dataDir, listen: '127.0.0.1:0' });
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const attempts: [string, string][] = [
    ['dot-dot segments in the key', '/cvmfs/test.barge.io/../../secret'],
    ['dot-dot segments inside data/', '/cvmfs/test.barge.io/data/ab/../../../secret'],
    ['dot-dot as the repository name', '/cvmfs/../secret'],
    ['percent-encoded dot-dot', '/cvmfs/test.barge.io/%2e%2e/%2e%2e/secret'],
    ['upper-case percent-encoded dot-dot', '/cvmfs/test.barge.io/%2E%2E/%2E%2E/secret'],
    ['percent-encoded slashes', '/cvmfs/test.barge.io/..%2f..%2fsecret'],
    ['a percent-encoded dot-dot repository name', '/cvmfs/%2e%2e/secret'],
    ['an encoded slash inside the repository name', '/cvmfs/test.barge.io%2f..%2f../secret'],
    ['an encoded NUL', '/cvmfs/test.barge.io/.cvmfspublished%00.txt'],
    ['raw backslashes', '/cvmfs/test.barge.io/..\\..\\secret'],
    ['encoded backslashes', '/cvmfs/test.barge.io/..%5c..%5csecret'],
    ['an absolute key', '/cvmfs/test.barge.io//etc/passwd'],
    ['an absolute key, encoded', '/cvmfs/test.barge.io/%2fetc%2fpasswd'],
    ['a single dot segment', '/cvmfs/test.barge.io/./.cvmfspublished'],
    ['malformed percent-encoding', '/cvmfs/test.barge.io/%zz'],
    ['dot-dot in an absolute-form target', 'http://x/cvmfs/test.barge.io/../../secret'],
  ];
  for (const [what, target] of attempts) {
    it(`refuses ${what} with 400`, async () => {
      const { status, text } = await rawRequest(server, target);
      assert.equal(status, 400);
      assert.ok(!text.includes(SECRET));
    });
  }

  it('refuses a request target that is not a path with 400', async () => {
    assert.equal((await rawRequest(server, '*')).status, 400);
  });

  it('still serves the repository after the attempts', async () => {
    const { status, text } = await rawRequest(server, '/cvmfs/test.barge.io/.cvmfspublished');
    assert.equal(status, 200);
    assert.ok(text.endsWith('manifest'));
  });
});
