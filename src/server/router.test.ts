import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { type RequestLogEntry, Router, type RunningServer, startServer } from './index.js';

describe('Router', () => {
  let server: RunningServer;
  const log: RequestLogEntry[] = [];

  before(async () => {
    const router = new Router()
      .on(['GET'], '/api/v1/repos/:fqrn/tags/:tag', (ctx) => {
        ctx.res.end(JSON.stringify(ctx.params));
      })
      .on(['POST'], '/api/v1/repos/:fqrn/tags/:tag', (ctx) => {
        ctx.res.end('posted');
      })
      .on(['GET'], '/files/*', (ctx) => {
        ctx.res.end(ctx.params['*']);
      })
      .on(['GET'], '/fail/client', () => {
        throw new BargeError('TAG_NOT_FOUND', 'there is no tag v9');
      })
      .on(['GET'], '/fail/server', async () => {
        throw new Error('disk on fire at /secret/path');
      });
    server = await startServer(
      { dataDir: '/nonexistent', listen: '127.0.0.1:0', onRequest: (e) => log.push(e) },
      router,
    );
  });
  after(() => server.close());

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`${server.url}${path}`, { method });
    return { status: res.status, allow: res.headers.get('allow'), body: await res.text() };
  };

  it('captures :name segments and the * rest, raw', async () => {
    assert.deepEqual(JSON.parse((await get('/api/v1/repos/a.b.c/tags/v%201')).body), {
      fqrn: 'a.b.c',
      tag: 'v%201',
    });
    assert.equal((await get('/files/x/y/z')).body, 'x/y/z');
    assert.equal((await get('/files/')).body, '');
  });

  it('tries routes by method and answers 405 with every allowed method', async () => {
    assert.equal((await get('/api/v1/repos/a.b/tags/t', 'POST')).body, 'posted');
    const res = await get('/api/v1/repos/a.b/tags/t', 'DELETE');
    assert.equal(res.status, 405);
    assert.equal(res.allow, 'GET, POST');
  });

  it('answers 404 when no pattern matches', async () => {
    assert.equal((await get('/api/v1/repos/a.b/tags')).status, 404);
    assert.equal((await get('/files')).status, 404);
  });

  it('maps a thrown BargeError to its status and message', async () => {
    assert.deepEqual(await get('/fail/client'), { status: 404, allow: null, body: 'there is no tag v9\n' });
  });

  it('answers 500 without details for other errors and hands the error to the log', async () => {
    log.length = 0;
    const res = await get('/fail/server');
    assert.equal(res.status, 500);
    assert.equal(res.body, 'internal server error\n');
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(String(log[0]?.error), /disk on fire/);
  });
});
