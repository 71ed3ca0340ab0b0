import http from 'node:http';
import net from 'node:net';
import { close, listen } from '../../testing/registry.js';

/**
 * Test support, not part of the client: small HTTP servers that stand between the registry client
 * and a real registry to misbehave on purpose (answer 503 or 429, cut or corrupt a blob, ignore
 * Range, redirect elsewhere), and a forward proxy that records what passes through it.
 */

/** What a rule does to the requests it matches. */
export type FaultAction =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'corrupt' }
  | { kind: 'extra'; bytes: number }
  | { kind: 'ignore-range' }
  | { kind: 'redirect'; to: string };

/** A fault for requests whose path matches, `times` times (default: always). */
export interface FaultRule {
  path: RegExp;
  action: FaultAction;
  times?: number;
}

/** A request as the proxy saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `127.0.0.1:<port>`: use it as the registry host of references. */
  host: string;
  url: string;
  requests: SeenRequest[];
  rules: FaultRule[];
  stop(): Promise<void>;
}

/**
 * A reverse proxy to `upstream` (`http://127.0.0.1:<port>`) applying `rules` in order; the first
 * matching rule with times left acts. `authorization`, if given, is added to forwarded requests
 * that carry none (a storage backend that holds its own credentials, like a pre-signed URL).
 */
export async function startFaultProxy(
  upstream: string,
  options: { authorization?: string } = {},
): Promise<FaultProxy> {
  const requests: SeenRequest[] = [];
  const rules: FaultRule[] = [];
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const rule = rules.find((r) => r.path.test(path) && (r.times ?? Number.POSITIVE_INFINITY) > 0);
    if (rule && rule.times !== undefined) rule.times--;
    const action = rule?.action;
    if (action?.kind === 'status') {
      res.writeHead(action.status, action.headers ?? {});
      res.end(action.body ?? '');
      return;
    }
    if (action?.kind === 'redirect') {
      res.writeHead(307, { Location: `${action.to}${path}` });
      res.end();
      return;
    }
    const headers = { ...req.headers, host: target.host };
    if (action?.kind === 'ignore-range') delete headers.range;
    if (options.authorization && !headers.authorization) headers.authorization = options.authorization;
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path, headers },
      (up) => relay(up, res, action),
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    rules,
    stop: () => close(server),
  };
}

function relay(up: http.IncomingMessage, res: http.ServerResponse, action: FaultAction | undefined): void {
  const headers = { ...up.headers };
  if (action?.kind === 'extra' && headers['content-length'] !== undefined) {
    headers['content-length'] = String(Number(headers['content-length']) + action.bytes);
  }
  res.writeHead(up.statusCode ?? 502, headers);
  let sent = 0;
  up.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (action?.kind === 'corrupt' && sent === 0 && data.length > 0) {
      data = Buffer.from(data);
      data[0] = (data[0] ?? 0) ^ 0xff;
    }
    if (action?.kind === 'stall' && sent + data.length >= action.afterBytes) {
      // Keep the connection open and silent, as a hung server or a dead route does.
      up.destroy();
      res.write(data.subarray(0, action.afterBytes - sent));
      sent = action.afterBytes;
      return;
    }
    if (action?.kind === 'cut' && sent + data.length >= action.afterBytes) {
      up.destroy();
      // Cut only after the bytes before the break reached the socket.
      res.write(data.subarray(0, action.afterBytes - sent), () => res.socket?.destroy());
      sent = action.afterBytes;
      return;
    }
    sent += data.length;
    res.write(data);
  });
  up.on('end', () => {
    if (action?.kind === 'cut' || action?.kind === 'stall') return;
    if (action?.kind === 'extra') res.write(Buffer.alloc(action.bytes, 0x42));
    res.end();
  });
}

/** A running forward proxy. */
export interface ForwardProxy {
  url: string;
  /** Absolute URIs of plain requests and `host:port` of CONNECT tunnels, in order. */
  seen: string[];
  stop(): Promise<void>;
}

/** A forward HTTP proxy as Squid is one: absolute-URI requests for http://, CONNECT tunnels for https://. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/');
    seen.push(url.href);
    const forward = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}
