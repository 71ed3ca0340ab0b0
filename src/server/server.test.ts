import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { type RequestLogEntry, type RunningServer, startServer } from './index.js';

const FQRN = 'test.barge.io';
const OBJECT = 'data/ab/cdef0123456789abcdef0123456789abcdef01';
const SMALL = randomBytes(3000);
const LARGE = randomBytes(600 * 1024);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reused: boolean;
}

/** One request with node:http, which sends the path as given (fetch would normalise it). */
function request(
  base: string,
  target: string,
  options: { method?: string; headers?: Record<string, string>; agent?: http.Agent } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: target,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function lifetime(headers: http.IncomingHttpHeaders): number {
  const expires = Date.parse(headers.expires ?? '');
  const date = Date.parse(headers.date ?? '');
  return Math.round((expires - date) / 1000);
}

/** A data dir with one repository, a directory that is not one yet, and a staging file. */
async function makeDataDir(): Promise<string> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'barge-server-'));
  const repo = path.join(dataDir, 'repos', FQRN);
  await mkdir(path.join(repo, 'data', 'ab'), { recursive: true });
  await mkdir(path.join(repo, 'data', 'txn'), { recursive: true });
  await writeFile(path.join(repo, '.cvmfspublished'), 'C0123\nNtest.barge.io\n--\nsig');
  await writeFile(path.join(repo, '.cvmfswhitelist'), 'whitelist');
  await writeFile(path.join(repo, '.cvmfsreflog'), 'reflog');
  await writeFile(path.join(repo, OBJECT), SMALL);
  await writeFile(path.join(repo, 'data', 'ab', 'large'), LARGE);
  await writeFile(path.join(repo, 'data', 'ab', 'empty'), '');
  await writeFile(path.join(repo, 'data', 'txn', 'pending.tmp'), 'half-written');
  execFileSync('mkfifo', [path.join(repo, 'data', 'ab', 'fifo')]);
  await mkdir(path.join(dataDir, 'repos', 'empty.barge.io'));
  await mkdir(path.join(dataDir, 'repos', 'replica.barge.io'));
  await writeFile(path.join(dataDir, 'repos', 'replica.barge.io', '.cvmfspublished'), 'x');
  await writeFile(path.join(dataDir, 'repos', 'replica.barge.io', '.cvmfs_last_snapshot'), 'x');
  await mkdir(path.join(dataDir, 'repos', 'not-a-repo'));
  await writeFile(path.join(dataDir, 'secret.txt'), 'outside the repositories');
  return dataDir;
}

describe('barge serve', () => {
  let dataDir: string;
  let server: RunningServer;
  const log: RequestLogEntry[] = [];
  const base = () => `${server.url}/cvmfs/${FQRN}`;

  before(async () => {
    dataDir = await makeDataDir();
    server = await startServer({ dataDir, listen: '127.0.0.1:0', onRequest: (e) => log.push(e) });
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const kinds: [string, number][] = [
    ['.cvmfspublished', 61],
    ['.cvmfswhitelist', 61],
    ['.cvmfsreflog', 61],
    [OBJECT, 259200],
    ['data/ab/large', 259200],
  ];
  for (const [key, maxAge] of kinds) {
    it(`serves ${key} cacheable for ${maxAge} s, without validators or encoding`, async () => {
      const res = await request(server.url, `/cvmfs/${FQRN}/${key}`, {
        headers: { 'Accept-Encoding': 'gzip, br' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers['cache-control'], `max-age=${maxAge}`);
      assert.equal(lifetime(res.headers), maxAge);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.equal(res.headers['content-length'], String(res.body.length));
      for (const absent of ['etag', 'last-modified', 'content-encoding'])
        assert.equal(res.headers[absent], undefined);
    });
  }

  it('sends the exact bytes of small and large objects', async () => {
    assert.deepEqual((await request(server.url, `/cvmfs/${FQRN}/${OBJECT}`)).body, SMALL);
    assert.deepEqual((await request(server.url, `/cvmfs/${FQRN}/data/ab/large`)).body, LARGE);
    const empty = await request(server.url, `/cvmfs/${FQRN}/data/ab/empty`);
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await request(server.url, `/cvmfs/${FQRN}/data/ab/large`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(LARGE.length));
    assert.equal(res.headers['cache-control'], 'max-age=259200');
    assert.equal(res.body.length, 0);
    assert.equal(
      (await request(server.url, `/cvmfs/${FQRN}/data/ab/nothing`, { method: 'HEAD' })).status,
      404,
    );
  });

  const ranges: [string, string, Buffer, number, number][] = [
    ['a prefix of a small object', 'bytes=0-9', SMALL, 0, 9],
    ['a suffix of a small object', 'bytes=-100', SMALL, SMALL.length - 100, SMALL.length - 1],
    ['an open range of a small object', 'bytes=2990-', SMALL, 2990, SMALL.length - 1],
    ['a range past the end, clipped', 'bytes=2000-999999', SMALL, 2000, SMALL.length - 1],
    ['the middle of a large object (streamed)', 'bytes=1000-500000', LARGE, 1000, 500000],
    ['a short range of a large object', 'bytes=100000-100099', LARGE, 100000, 100099],
  ];
  for (const [what, header, bytes, start, end] of ranges) {
    it(`answers 206 for ${what}`, async () => {
      const key = bytes === SMALL ? OBJECT : 'data/ab/large';
      const res = await request(server.url, `/cvmfs/${FQRN}/${key}`, { headers: { Range: header } });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`);
      assert.equal(res.headers['content-length'], String(end - start + 1));
      assert.deepEqual(res.body, bytes.subarray(start, end + 1));
    });
  }

  it('answers 416 with the size for a range that starts past the end', async () => {
    const res = await request(server.url, `/cvmfs/${FQRN}/${OBJECT}`, { headers: { Range: 'bytes=3000-' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers['content-range'], `bytes */${SMALL.length}`);
    const empty = await request(server.url, `/cvmfs/${FQRN}/data/ab/empty`, {
      headers: { Range: 'bytes=0-' },
    });
    assert.equal(empty.status, 416);
  });

  it('serves the whole file for multiple ranges or an If-Range it cannot match', async () => {
    const variants: Record<string, string>[] = [
      { Range: 'bytes=0-1,5-6' },
      { Range: 'bytes=0-1', 'If-Range': '"x"' },
    ];
    for (const headers of variants) {
      const res = await request(server.url, `/cvmfs/${FQRN}/${OBJECT}`, { headers });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, SMALL);
    }
  });

  const missing: [string, string][] = [
    ['a missing object', `/cvmfs/${FQRN}/data/ab/0000`],
    ['a missing repository', '/cvmfs/nothing.barge.io/.cvmfspublished'],
    ['a directory', `/cvmfs/${FQRN}/data/ab`],
    ['a FIFO (without waiting for a writer)', `/cvmfs/${FQRN}/data/ab/fifo`],
    ['a directory with a trailing slash', `/cvmfs/${FQRN}/data/`],
    ['the repository base', `/cvmfs/${FQRN}/`],
    ['a file in data/txn', `/cvmfs/${FQRN}/data/txn/pending.tmp`],
    ['data/txn itself', `/cvmfs/${FQRN}/data/txn`],
    ['a name that is not a repository', '/cvmfs/info/v1/meta.json'],
    ['a path outside /cvmfs', '/secret.txt'],
    ['the root', '/'],
  ];
  for (const [what, target] of missing) {
    it(`answers 404 for ${what}, briefly cacheable`, async () => {
      const res = await request(server.url, target);
      assert.equal(res.status, 404);
      assert.equal(res.headers['cache-control'], 'max-age=61');
      assert.equal(res.body.toString(), 'not found\n');
    });
  }

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    it(`answers 405 with Allow for ${method}`, async () => {
      const res = await request(server.url, `/cvmfs/${FQRN}/.cvmfspublished`, { method });
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET, HEAD');
    });
  }

  it('ignores the query string and accepts an absolute-form target', async () => {
    assert.deepEqual((await request(server.url, `/cvmfs/${FQRN}/${OBJECT}?x=1`)).body, SMALL);
    assert.deepEqual((await request(server.url, `${base()}/${OBJECT}`)).body, SMALL);
  });

  it('lists mountable repositories in /cvmfs/info/v1/repositories.json', async () => {
    const res = await request(server.url, '/cvmfs/info/v1/repositories.json');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'max-age=61');
    assert.deepEqual(JSON.parse(res.body.toString()), {
      schema: 1,
      repositories: [{ name: FQRN, url: `/cvmfs/${FQRN}` }],
      replicas: [{ name: 'replica.barge.io', url: '/cvmfs/replica.barge.io' }],
    });
  });

  it('reuses one kept-alive connection for consecutive requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let connections = 0;
    const count = () => connections++;
    server.server.on('connection', count);
    try {
      const answers = [];
      for (let i = 0; i < 5; i++) {
        answers.push(
          await request(server.url, `/cvmfs/${FQRN}/${i % 2 ? OBJECT : 'data/ab/large'}`, { agent }),
        );
      }
      assert.deepEqual(
        answers.map((a) => a.reused),
        [false, true, true, true, true],
      );
      assert.equal(connections, 1);
      assert.match(String(answers[0]?.headers['keep-alive']), /timeout=75/);
    } finally {
      server.server.off('connection', count);
      agent.destroy();
    }
  });

  it('closes every file, also when clients go away mid-body', async () => {
    const openFds = async () => (await readdir('/proc/self/fd')).length;
    // Warm up: the first requests open lasting descriptors (sockets, the libuv thread pool).
    await request(server.url, `/cvmfs/${FQRN}/data/ab/large`);
    const before = await openFds();
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${base()}/data/ab/large`, { agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
      });
      await request(server.url, `/cvmfs/${FQRN}/${i % 2 ? OBJECT : 'data/ab/nothing'}`);
      await request(server.url, `/cvmfs/${FQRN}/data/ab`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok((await openFds()) <= before, `${await openFds()} descriptors open, ${before} before`);
  });

  it('reports each request to the log hook', async () => {
    log.length = 0;
    await request(server.url, `/cvmfs/${FQRN}/data/ab/large`);
    await request(server.url, `/cvmfs/${FQRN}/data/ab/none`, { method: 'HEAD' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(log.length, 2);
    assert.deepEqual(
      log.map(({ method, path, status, bytes }) => ({ method, path, status, bytes })),
      [
        { method: 'GET', path: `/cvmfs/${FQRN}/data/ab/large`, status: 200, bytes: LARGE.length },
        { method: 'HEAD', path: `/cvmfs/${FQRN}/data/ab/none`, status: 404, bytes: 0 },
      ],
    );
    assert.ok(log.every((e) => e.durationMs >= 0 && e.error === undefined));
  });
});

describe('startServer', () => {
  it('lists no repositories when the data dir has none', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'barge-server-'));
    const server = await startServer({ dataDir, listen: '127.0.0.1:0' });
    try {
      const res = await request(server.url, '/cvmfs/info/v1/repositories.json');
      assert.deepEqual(JSON.parse(res.body.toString()), { schema: 1, repositories: [], replicas: [] });
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('fails with LISTEN_FAILED when the port is taken', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'barge-server-'));
    const first = await startServer({ dataDir, listen: '127.0.0.1:0' });
    try {
      await assert.rejects(startServer({ dataDir, listen: first.url.replace('http://', '') }), (err) =>
        isBargeError(err, 'LISTEN_FAILED'),
      );
    } finally {
      await first.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
