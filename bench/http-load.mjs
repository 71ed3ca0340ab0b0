// A small HTTP/1.1 keep-alive load generator for the serving benchmarks: `connections` sockets,
// each sending one GET at a time (no pipelining) over a list of paths, reading each answer by its
// Content-Length and throwing the body away, for `seconds`. Written on raw sockets because it must
// cost the shared cores less than the servers it measures: autocannon parses bodies in JS and
// tops out near 40 MB/s on 1 MiB objects here, which measured autocannon rather than the servers.
import net from 'node:net';

/**
 * Loads `http://host:port` with GETs of `paths` and resolves
 * { requests, bytes, seconds, non2xx, errors, p50, p99 } (latencies in ms).
 */
export async function httpLoad({ host = '127.0.0.1', port, paths, connections = 50, seconds = 10 }) {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const stats = { requests: 0, bytes: 0, non2xx: 0, errors: 0 };
  const latencies = [];
  const stride = Math.max(1, Math.floor(paths.length / connections));
  await Promise.all(
    Array.from({ length: connections }, (_, c) =>
      connection({ host, port, paths, deadline, stats, latencies, first: (c * stride) % paths.length }),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { ...stats, seconds: elapsed, p50: at(0.5), p99: at(0.99) };
}

function connection({ host, port, paths, deadline, stats, latencies, first }) {
  return new Promise((resolve) => {
    let next = first;
    let sentAt = 0;
    let pending = null; // header bytes received so far
    let remaining = 0; // body bytes still to come
    let inBody = false;
    let status = 0;
    let socket;

    const send = () => {
      if (performance.now() >= deadline) {
        socket.end();
        resolve();
        return;
      }
      const target = paths[next++ % paths.length];
      sentAt = performance.now();
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
    };
    const finish = () => {
      stats.requests++;
      if (status < 200 || status > 299) stats.non2xx++;
      latencies.push(performance.now() - sentAt);
      send();
    };
    const onData = (chunk) => {
      let data = chunk;
      while (data.length > 0) {
        if (inBody) {
          const take = Math.min(remaining, data.length);
          remaining -= take;
          stats.bytes += take;
          data = data.subarray(take);
          if (remaining === 0) {
            inBody = false;
            finish();
          }
          continue;
        }
        pending = pending ? Buffer.concat([pending, data]) : data;
        data = pending.subarray(0, 0);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = pending.toString('latin1', 0, end);
        status = Number(head.slice(9, 12));
        remaining = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        data = pending.subarray(end + 4);
        pending = null;
        inBody = remaining > 0;
        if (!inBody) finish();
      }
    };
    const open = () => {
      socket = net.connect(port, host);
      socket.setNoDelay(true);
      socket.on('connect', send);
      socket.on('data', onData);
      socket.on('error', () => stats.errors++);
      socket.on('close', () => {
        // The server closed a kept-alive connection: open another and go on.
        if (performance.now() < deadline) {
          pending = null;
          inBody = false;
          open();
        } else resolve();
      });
    };
    open();
  });
}
