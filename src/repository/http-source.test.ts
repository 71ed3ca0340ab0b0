import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BargeError, isBargeError } from '../error/index.js';
import { type RunningServer, startServer } from '../server/index.js';
import { HttpSource, httpSource, proxyFor } from './http-source.js';
import { openSource } from './open-source.js';

const FQRN = 'test.barge.io';
const MANIFEST = Buffer.from('C0123\nNtest.barge.io\n--\nsignature');
const OBJECT_KEY = 'data/ab/cdef0123456789abcdef0123456789abcdef01C';
const OBJECT = randomBytes(200 * 1024);
/** Fast retries for tests; the defaults wait half a second and more. */
const QUICK = { backoffMs: 5, maxBackoffMs: 20, proxy: false as const };

/** A tiny HTTP server whose behaviour each test writes; records what it was sent. */
async function testServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<{ url: string; requests: http.IncomingMessage[]; close: () => Promise<void> }> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function failsWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(isBargeError(err), `expected a BargeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('httpSource against barge serve', () => {
  let dataDir: string;
  let server: RunningServer;
  let source: HttpSource;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'barge-http-source-'));
    const repo = path.join(dataDir, 'repos', FQRN);
    await mkdir(path.join(repo, 'data', 'ab'), { recursive: true });
    await writeFile(path.join(repo, '.cvmfspublished'), MANIFEST);
    await writeFile(path.join(repo, OBJECT_KEY), OBJECT);
    server = await startServer({ dataDir, listen: '127.0.0.1:0' });
    source = httpSource(`${server.url}/cvmfs/${FQRN}/`, QUICK);
  });
  after(async () => {
    source.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fetches the manifest and objects byte for byte', async () => {
    assert.equal(source.location, `${server.url}/cvmfs/${FQRN}`);
    assert.deepEqual(await source.fetch('.cvmfspublished'), MANIFEST);
    assert.deepEqual(await source.fetch(OBJECT_KEY), OBJECT);
  });

  it('fails with OBJECT_NOT_FOUND naming the URL on 404, and fetchOptional gives undefined', async () => {
    await assert.rejects(
      source.fetch('data/00/missing'),
      failsWith('OBJECT_NOT_FOUND', /\/cvmfs\/test\.barge\.io\/data\/00\/missing/),
    );
    assert.equal(await source.fetchOptional('data/00/missing'), undefined);
  });

  it('fetches many objects in parallel over the kept-alive pool', async () => {
    let connections = 0;
    const count = () => connections++;
    server.server.on('connection', count);
    try {
      const pooled = httpSource(`${server.url}/cvmfs/${FQRN}`, { ...QUICK, maxSockets: 3 });
      const bodies = await Promise.all(Array.from({ length: 30 }, () => pooled.fetch(OBJECT_KEY)));
      assert.ok(bodies.every((b) => b.equals(OBJECT)));
      assert.ok(connections <= 3, `${connections} connections for a pool of 3`);
      pooled.close();
    } finally {
      server.server.off('connection', count);
    }
  });

  it('refuses keys that would leave the repository base', async () => {
    for (const key of ['../x', '/etc/passwd', 'data//x', './x']) {
      await assert.rejects(source.fetch(key), failsWith('INVALID_PATH'));
    }
  });
});

describe('httpSource retries and failures', () => {
  it('retries a 503 and succeeds, without Accept-Encoding', async () => {
    const test = await testServer((_req, res, n) => {
      if (n < 3) {
        res.writeHead(503).end('busy');
      } else {
        res.writeHead(200, { 'Content-Length': 5 }).end('hello');
      }
    });
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      assert.equal((await source.fetch('.cvmfspublished')).toString(), 'hello');
      assert.equal(test.requests.length, 3);
      for (const req of test.requests) {
        assert.equal(req.url, `/cvmfs/${FQRN}/.cvmfspublished`);
        assert.equal(req.headers['accept-encoding'], undefined);
      }
    } finally {
      source.close();
      await test.close();
    }
  });

  it('gives up with FETCH_FAILED naming the URL and status after the retries', async () => {
    const test = await testServer((_req, res) => res.writeHead(502).end());
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, { ...QUICK, retries: 2 });
    try {
      await assert.rejects(source.fetch('data/ab/x'), (err) => {
        failsWith('FETCH_FAILED', /\/cvmfs\/test\.barge\.io\/data\/ab\/x.*HTTP 502/)(err);
        assert.equal((err as { details: { status: number } }).details.status, 502);
        return true;
      });
      assert.equal(test.requests.length, 3);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('retries 429 but neither 404 nor 403', async () => {
    const statuses = [429, 404];
    const test = await testServer((_req, res, n) => res.writeHead(statuses[n - 1] ?? 403).end());
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      await assert.rejects(source.fetch('a'), failsWith('OBJECT_NOT_FOUND'));
      assert.equal(test.requests.length, 2);
      await assert.rejects(source.fetch('b'), failsWith('FETCH_FAILED', /HTTP 403/));
      assert.equal(test.requests.length, 3);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('retries a connection cut before the answer and a body cut short', async () => {
    const test = await testServer((req, res, n) => {
      if (n === 1) req.socket.destroy();
      else if (n === 2) {
        res.writeHead(200, { 'Content-Length': 100 });
        res.write('partial');
        setTimeout(() => req.socket.destroy(), 10);
      } else res.writeHead(200, { 'Content-Length': 2 }).end('ok');
    });
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      assert.equal((await source.fetch('x')).toString(), 'ok');
      assert.equal(test.requests.length, 3);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('times out a silent server and fails with FETCH_FAILED', async () => {
    const test = await testServer(() => {});
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, { ...QUICK, timeoutMs: 100, retries: 1 });
    try {
      await assert.rejects(source.fetch('x'), failsWith('FETCH_FAILED', /no data for 100 ms/));
      assert.equal(test.requests.length, 2);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('fails with FETCH_FAILED when nothing listens', async () => {
    const test = await testServer(() => {});
    await test.close();
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, { ...QUICK, retries: 1 });
    await assert.rejects(source.fetch('x'), failsWith('FETCH_FAILED', /ECONNREFUSED/));
    source.close();
  });

  it('refuses a body sent with a Content-Encoding, without retrying', async () => {
    const test = await testServer((_req, res) =>
      res.writeHead(200, { 'Content-Encoding': 'gzip' }).end('zz'),
    );
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      await assert.rejects(source.fetch('x'), failsWith('FETCH_FAILED', /Content-Encoding: gzip/));
      assert.equal(test.requests.length, 1);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('does not follow redirects', async () => {
    const test = await testServer((_req, res) => res.writeHead(302, { Location: '/elsewhere' }).end());
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      await assert.rejects(source.fetch('x'), failsWith('FETCH_FAILED', /HTTP 302/));
      assert.equal(test.requests.length, 1);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('limits parallel requests to maxSockets', async () => {
    let active = 0;
    let peak = 0;
    const test = await testServer((_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        res.writeHead(200, { 'Content-Length': 1 }).end('x');
      }, 15);
    });
    const source = httpSource(`${test.url}/cvmfs/${FQRN}`, QUICK);
    try {
      await Promise.all(Array.from({ length: 24 }, (_, i) => source.fetch(`k${i}`)));
      assert.equal(peak, 8);
    } finally {
      source.close();
      await test.close();
    }
  });

  it('rejects a URL that is not http(s)', () => {
    assert.throws(() => httpSource('ftp://x/cvmfs/a.b'), failsWith('INVALID_ARGUMENT'));
    assert.throws(() => httpSource('not a url'), failsWith('INVALID_ARGUMENT'));
    assert.throws(
      () => httpSource('https://x/cvmfs/a.b', { proxy: 'http://p:3128' }),
      failsWith('INVALID_ARGUMENT'),
    );
  });
});

describe('httpSource through an HTTP proxy', () => {
  it('sends absolute URIs to the proxy, which forwards them to barge serve', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'barge-http-proxy-'));
    await mkdir(path.join(dataDir, 'repos', FQRN), { recursive: true });
    await writeFile(path.join(dataDir, 'repos', FQRN, '.cvmfspublished'), MANIFEST);
    const origin = await startServer({ dataDir, listen: '127.0.0.1:0' });
    // A forwarding proxy in the manner of Squid: it gets `GET http://host/path`, fetches it.
    const proxy = await testServer((req, res) => {
      const upstream = http.get(req.url ?? '', { headers: { host: req.headers.host ?? '' } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
    });
    const source = httpSource(`${origin.url}/cvmfs/${FQRN}`, { ...QUICK, proxy: proxy.url });
    try {
      assert.equal(source.proxy, proxy.url);
      assert.deepEqual(await source.fetch('.cvmfspublished'), MANIFEST);
      await assert.rejects(source.fetch('data/00/none'), failsWith('OBJECT_NOT_FOUND'));
      assert.deepEqual(
        proxy.requests.map((r) => [r.url, r.headers.host]),
        [
          [`${origin.url}/cvmfs/${FQRN}/.cvmfspublished`, origin.url.replace('http://', '')],
          [`${origin.url}/cvmfs/${FQRN}/data/00/none`, origin.url.replace('http://', '')],
        ],
      );
    } finally {
      source.close();
      await proxy.close();
      await origin.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('authenticates to the proxy and names it, without the password, when it fails', async () => {
    const proxy = await testServer((_req, res) => res.writeHead(503).end());
    const withUser = proxy.url.replace('http://', 'http://user:s3cret@');
    const source = httpSource(`http://stratum1.invalid/cvmfs/${FQRN}`, {
      ...QUICK,
      retries: 0,
      proxy: withUser,
    });
    try {
      await assert.rejects(source.fetch('x'), (err) => {
        failsWith('FETCH_FAILED', /via proxy http:\/\/127\.0\.0\.1:\d+/)(err);
        assert.ok(
          !JSON.stringify({ m: (err as Error).message, d: (err as BargeError).details }).includes('s3cret'),
        );
        return true;
      });
      const expected = `Basic ${Buffer.from('user:s3cret').toString('base64')}`;
      assert.equal(proxy.requests[0]?.headers['proxy-authorization'], expected);
    } finally {
      source.close();
      await proxy.close();
    }
  });

  const env: [string, NodeJS.ProcessEnv, string | undefined][] = [
    ['http://s1.example.org/cvmfs/a.b', { http_proxy: 'http://squid:3128' }, 'http://squid:3128'],
    ['http://s1.example.org/cvmfs/a.b', { HTTP_PROXY: 'http://squid:3128' }, undefined],
    ['https://s1.example.org/cvmfs/a.b', { http_proxy: 'http://squid:3128' }, undefined],
    ['http://s1.example.org/x', { http_proxy: 'http://squid:3128', no_proxy: 'example.org' }, undefined],
    ['http://s1.example.org/x', { http_proxy: 'http://squid:3128', no_proxy: '.example.org' }, undefined],
    ['http://s1.example.org/x', { http_proxy: 'http://squid:3128', NO_PROXY: 'localhost, *' }, undefined],
    [
      'http://s1.example.org/x',
      { http_proxy: 'http://squid:3128', no_proxy: 'ample.org' },
      'http://squid:3128',
    ],
    [
      'http://s1.example.org:8000/x',
      { http_proxy: 'http://squid:3128', no_proxy: 's1.example.org:80' },
      'http://squid:3128',
    ],
    [
      'http://s1.example.org:8000/x',
      { http_proxy: 'http://squid:3128', no_proxy: 's1.example.org:8000' },
      undefined,
    ],
    ['http://127.0.0.1:8000/x', { http_proxy: 'http://squid:3128', no_proxy: '127.0.0.1' }, undefined],
    ['http://[::1]:8000/x', { http_proxy: 'http://squid:3128', no_proxy: '::1' }, undefined],
    ['http://[::1]:8000/x', { http_proxy: 'http://squid:3128', no_proxy: '[::1]:8000' }, undefined],
  ];
  for (const [url, vars, expected] of env) {
    it(`takes ${expected ?? 'no proxy'} for ${url} with ${JSON.stringify(vars)}`, () => {
      assert.equal(proxyFor(new URL(url), vars), expected);
    });
  }
});

describe('openSource', () => {
  it('opens a local directory as a store source', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-open-source-'));
    try {
      await writeFile(path.join(dir, '.cvmfspublished'), MANIFEST);
      const source = await openSource(dir);
      assert.equal(source.location, dir);
      assert.deepEqual(await source.fetch('.cvmfspublished'), MANIFEST);
      assert.equal(await source.fetchOptional('data/00/none'), undefined);
      await assert.rejects(source.fetch('data/00/none'), failsWith('OBJECT_NOT_FOUND'));
      source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens an http(s) URL as an HTTP source', async () => {
    const source = await openSource('http://127.0.0.1:9/cvmfs/a.b', { proxy: false });
    assert.ok(source instanceof HttpSource);
    source.close();
  });

  it('fails with SOURCE_NOT_FOUND for a missing directory, INVALID_ARGUMENT for other schemes', async () => {
    await assert.rejects(
      openSource(path.join(tmpdir(), 'barge-no-such-dir-x')),
      failsWith('SOURCE_NOT_FOUND'),
    );
    await assert.rejects(openSource('s3://bucket/repo'), failsWith('INVALID_ARGUMENT'));
  });
});
