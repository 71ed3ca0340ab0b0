import { realpathSync } from 'node:fs';
import path from 'node:path';
import { BargeError } from '../error/index.js';
import { renderNginxConfig } from '../server/index.js';
import { type CliIo, dataDir, parse } from './cli-context.js';

const USAGE =
  'barge nginx-conf [--data DIR] [--listen 80] [--upstream 127.0.0.1:8080] [--workers N|auto] [--www DIR] ' +
  '[--pid-file F] [--log-dir D] [--user NAME] [--foreground]';

/**
 * `barge nginx-conf`: prints the nginx configuration for serving the data directory in production
 * (docs/nginx.conf filled in: nginx sends the files on disk, `barge serve` answers the rest and
 * the repositories kept in S3). `--foreground` (`daemon off`) and `--user root` are for tests and
 * benchmarks that run nginx as a child. The link nginx's root needs is named in the header, and
 * on stderr while it is missing.
 */
export async function nginxConfCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    {
      data: { type: 'string' },
      listen: { type: 'string' },
      upstream: { type: 'string' },
      workers: { type: 'string' },
      www: { type: 'string' },
      'pid-file': { type: 'string' },
      'log-dir': { type: 'string' },
      user: { type: 'string' },
      foreground: { type: 'boolean' },
    },
    { min: 0, max: 0, usage: USAGE },
  );
  const dir = dataDir(values.data);
  const www = path.resolve(values.www ?? path.join(dir, 'www'));
  const workers = values.workers === undefined || values.workers === 'auto' ? 'auto' : Number(values.workers);
  if (workers !== 'auto' && !(Number.isSafeInteger(workers) && workers > 0)) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `--workers must be a positive count or auto, not '${values.workers}'`,
    );
  }
  const text = await renderNginxConfig({
    dataDir: dir,
    www,
    workers,
    foreground: values.foreground === true,
    ...(values.listen ? { listen: values.listen } : {}),
    ...(values.upstream ? { upstream: values.upstream } : {}),
    ...(values['pid-file'] ? { pidFile: path.resolve(values['pid-file']) } : {}),
    ...(values['log-dir'] ? { logDir: path.resolve(values['log-dir']) } : {}),
    ...(values.user ? { user: values.user } : {}),
  });
  io.out(text.replace(/\n$/, ''));
  if (!linked(path.join(www, 'cvmfs'), path.join(dir, 'repos'))) {
    io.err(`nginx serves ${www}/cvmfs, which is not yet a link to ${dir}/repos:`);
    io.err(`  mkdir -p ${www} && ln -s ${dir}/repos ${www}/cvmfs`);
  }
  return 0;
}

/** Whether `link` resolves to the same directory as `target`. */
function linked(link: string, target: string): boolean {
  try {
    return realpathSync(link) === realpathSync(target);
  } catch {
    return false;
  }
}
