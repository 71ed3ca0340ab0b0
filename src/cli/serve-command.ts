import { readFileSync } from 'node:fs';
import { BargeError } from '../error/index.js';
import { createRouter, startServer } from '../server/index.js';
import { type CliIo, dataDir, parse } from './cli-context.js';

/** How often the server removes expired uploads (they also go in `barge uploads expire` and gc). */
const EXPIRY_INTERVAL_MS = 3600_000;

/**
 * `barge serve [--listen 127.0.0.1:8080] [--tls-cert F --tls-key F] [--read-only]`: every
 * repository at /cvmfs/<fqrn>/, and the user code API (/pubapi/, /api/v1/) for repositories with
 * uploads enabled. Runs until SIGINT/SIGTERM, then finishes the batches it has accepted. Also the
 * dashboard (/ui/), /metrics, /healthz and /readyz, and a JSON log line per request on stdout.
 * `--read-only` serves without the upload API and writes nothing into the data directory (the
 * dashboard's samples stay in memory): one of several stateless servers in front of a replica or
 * an S3 bucket, behind Squid or Varnish, while one writer publishes.
 */
export async function serveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    {
      data: { type: 'string' },
      listen: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'read-only': { type: 'boolean' },
    },
    {
      min: 0,
      max: 0,
      usage:
        'barge serve [--listen 127.0.0.1:8080] [--tls-cert cert.pem --tls-key key.pem] [--read-only] [--data DIR]',
    },
  );
  const dir = dataDir(values.data);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new BargeError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  }
  const tls = values['tls-cert']
    ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key'] as string) }
    : undefined;
  const readOnly = values['read-only'] === true;
  const router = createRouter({ dataDir: dir });
  // The API loads only where some repository takes uploads: a plain stratum-0 server stays lean.
  const { UploadService } = await import('../usercode/upload-service.js');
  const service = readOnly ? undefined : await UploadService.open({ dataDir: dir });
  let tokens: { close(): void } | undefined;
  let expiry: NodeJS.Timeout | undefined;
  if (service && service.repositories().length > 0) {
    const { TokenStore } = await import('../usercode/token-store.js');
    const { addUploadRoutes } = await import('../usercode/api-routes.js');
    const store = new TokenStore(dir);
    tokens = store;
    addUploadRoutes(router, { service, tokens: store });
    expiry = setInterval(() => {
      for (const fqrn of service.repositories()) {
        service.expire(fqrn).then(
          ({ removed }) => {
            if (removed.length > 0) io.out(`expired ${removed.length} upload(s) of ${fqrn}`);
          },
          (err) => io.err(`expiring uploads of ${fqrn} failed: ${(err as Error).message}`),
        );
      }
    }, EXPIRY_INTERVAL_MS);
    expiry.unref();
  }
  // Metrics, health, the dashboard and the JSON request log (one line per event on stdout).
  const { Observer } = await import('../observe/index.js');
  const observer = await Observer.open({ dataDir: dir, write: io.out, readOnly });
  observer.addRoutes(router);
  const server = await startServer(
    {
      dataDir: dir,
      listen: values.listen ?? '127.0.0.1:8080',
      ...(tls ? { tls } : {}),
      ...observer.serverOptions(),
    },
    router,
  );
  io.out(`serving ${dir}/repos at ${server.url}/cvmfs/`);
  io.out(`dashboard at ${server.url}/ui/, metrics at ${server.url}/metrics`);
  observer.log.info('server.listening', { url: server.url });
  if (service && service.repositories().length > 0) {
    io.out(
      `user code API at ${server.url}/pubapi/ and ${server.url}/api/v1/ for ${service.repositories().join(', ')}`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  observer.drain();
  observer.log.info('server.stopping', {});
  clearInterval(expiry);
  await server.close();
  await service?.close();
  await observer.close();
  tokens?.close();
  return 0;
}
