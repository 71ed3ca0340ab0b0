import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BargeError } from '../error/index.js';
import { parseListen } from './listen-address.js';
import { s3Repositories } from './store-files.js';

/**
 * The checkout or package root, from dist/server/ (or src/server/): docs/ and package.json ship
 * beside dist/, as ui/ does for the dashboard (observe's DEFAULT_UI_DIR).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** docs/nginx.conf: the commented template every generated configuration is filled in from. */
export const NGINX_TEMPLATE = path.join(ROOT, 'docs', 'nginx.conf');

/** What an nginx configuration for barge is generated for. */
export interface NginxConfigOptions {
  /** barge's data directory (absolute): `<dataDir>/repos` is served. */
  dataDir: string;
  /** nginx's root (absolute), holding one link `cvmfs -> <dataDir>/repos` (default `<dataDir>/www`). */
  www?: string;
  /** nginx's `listen`: a port, `host:port` or `[v6]:port` (default 80). */
  listen?: string;
  /** `host:port` of `barge serve`, which answers everything but files on disk (default 127.0.0.1:8080). */
  upstream?: string;
  /** worker_processes: a count or 'auto' (default, one per core). */
  workers?: number | 'auto';
  /** Default /run/nginx.pid, where Debian's nginx.service looks. */
  pidFile?: string;
  /** Where barge-access.log and barge-error.log go (default /var/log/nginx). */
  logDir?: string;
  /** Repositories kept in S3, passed whole to barge serve (default: those of `dataDir`). */
  s3Repositories?: readonly string[];
  /** Tests and benchmarks: `daemon off;`, to run nginx as a child process. */
  foreground?: boolean;
  /** `user NAME;` of the workers (default www-data, as Debian's; tests run them as root to read private temporary directories). */
  user?: string;
}

/**
 * docs/nginx.conf filled in for a data directory: paths, listen address, upstream and workers
 * substituted, one `location ^~ /cvmfs/<fqrn>/` to barge serve per repository kept in S3, and a
 * header naming the barge version and data directory it was generated for. Nothing else changes,
 * so what bench/serve and the tests run is what operators deploy. Throws INVALID_ARGUMENT for a
 * value nginx would misread (whitespace, `;`, quotes in a path), and IO_ERROR when the template
 * no longer holds a line it fills in (an edit of docs/nginx.conf must not pass silently).
 */
export async function renderNginxConfig(options: NginxConfigOptions): Promise<string> {
  const dataDir = absolutePath('data directory', options.dataDir);
  const www = absolutePath('--www', options.www ?? path.join(dataDir, 'www'));
  const logDir = absolutePath('log directory', options.logDir ?? '/var/log/nginx');
  const pidFile = absolutePath('pid file', options.pidFile ?? '/run/nginx.pid');
  const listen = address('--listen', options.listen ?? '80', 'listen');
  const upstream = address('--upstream', options.upstream ?? '127.0.0.1:8080', 'upstream');
  const workers = options.workers ?? 'auto';
  if (workers !== 'auto' && !(Number.isSafeInteger(workers) && workers > 0)) {
    throw new BargeError('INVALID_ARGUMENT', `workers must be a positive count or auto, not '${workers}'`);
  }
  if (options.user !== undefined && !/^[a-z_][a-z0-9_.-]*$/i.test(options.user)) {
    throw new BargeError('INVALID_ARGUMENT', `'${options.user}' is not a user name`);
  }
  const remote = options.s3Repositories ?? (await s3Repositories(dataDir));

  let text = readTemplate();
  const put = (from: string | RegExp, to: string, times = 1) => {
    const found = text.split(from).length - 1;
    if (found !== times) {
      throw new BargeError(
        'IO_ERROR',
        `${NGINX_TEMPLATE} holds '${from}' ${found} times, expected ${times}`,
        {
          hint: 'docs/nginx.conf and src/server/nginx-config.ts change together',
        },
      );
    }
    text = text.split(from).join(to);
  };
  put(/^# Use:.*\n(?:#.+\n)*/m, header(dataDir, www));
  put('user www-data;', `user ${options.user ?? 'www-data'};`);
  const running = options.foreground ? 'daemon off;\n' : '';
  put('worker_processes auto;', `${running}worker_processes ${workers};`);
  put('pid /run/nginx.pid;', `pid ${pidFile};`);
  put('/var/log/nginx/', `${logDir}/`, 2);
  put('server 127.0.0.1:8080;', `server ${upstream};`);
  put('listen 80;', `listen ${listen};`);
  put('root /srv/barge-data/www;', `root ${www};`);
  put('cvmfs -> /srv/barge-data/repos', `cvmfs -> ${dataDir}/repos`);
  const example = '        # location ^~ /cvmfs/<fqrn>/ { proxy_pass http://barge_serve; }\n';
  put(example, remote.length > 0 ? remote.map(s3Location).join('') : example);
  return text;
}

/** This barge's version (package.json beside dist/). */
export function bargeVersion(): string {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function readTemplate(): string {
  try {
    return readFileSync(NGINX_TEMPLATE, 'utf8');
  } catch (cause) {
    throw new BargeError('IO_ERROR', `cannot read the nginx template ${NGINX_TEMPLATE}`, {
      hint: 'docs/nginx.conf ships with barge beside dist/; reinstall or check out barge whole',
      cause,
    });
  }
}

/** The template's "Use:" paragraph becomes what this file was generated for and what to do. */
function header(dataDir: string, www: string): string {
  return [
    `# Generated by \`barge nginx-conf\` (barge ${bargeVersion()}) for the data directory ${dataDir},`,
    "# from barge's docs/nginx.conf. Before starting nginx, link its root to the repositories:",
    `#   mkdir -p ${www} && ln -s ${dataDir}/repos ${www}/cvmfs`,
    '# and run `barge serve --read-only` at the upstream below. Generate this file again after',
    '# adding a repository kept in S3.',
    '',
  ].join('\n');
}

/** A repository kept in S3: all of it to barge serve, which streams it from the bucket. */
function s3Location(fqrn: string): string {
  return [
    `        location ^~ /cvmfs/${fqrn}/ {`,
    '            proxy_pass http://barge_serve;',
    '            proxy_http_version 1.1;',
    '            proxy_set_header Connection "";',
    '        }',
    '',
  ].join('\n');
}

/** nginx reads a path up to whitespace or `;`, and expands `$`: such paths are refused, not quoted. */
function absolutePath(what: string, value: string): string {
  if (!path.isAbsolute(value) || /[\s;{}'"\\$#]/.test(value)) {
    throw new BargeError('INVALID_ARGUMENT', `${what} '${value}' is not an absolute path nginx can read`, {
      hint: 'give an absolute path without whitespace, quotes or any of ; { } $ # \\',
    });
  }
  return path.resolve(value);
}

/** `listen` takes a bare port for all IPv4 interfaces; an upstream without host is this machine. */
function address(what: string, text: string, kind: 'listen' | 'upstream'): string {
  const { host, port } = parseListen(text);
  const bare = !text.includes(':') || text.startsWith(':');
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
    throw new BargeError('INVALID_ARGUMENT', `${what} '${text}' has no valid host`, {
      hint: "give e.g. '80', '127.0.0.1:8080' or '[::1]:8080'",
    });
  }
  if (bare) return kind === 'listen' ? String(port) : `127.0.0.1:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
