import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createPrivateKey, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

/**
 * Real registries for tests: the Debian `docker-registry` (distribution 2.8) on 127.0.0.1, with
 * no auth, htpasswd basic auth, or the standard bearer-token flow against a token server written
 * here; test images built with `umoci` and pushed with `skopeo`. Needs the Debian packages
 * docker-registry, skopeo, umoci, apache2-utils (htpasswd) and openssl.
 */

/** A user of a test registry. */
export interface RegistryUser {
  username: string;
  password: string;
}

/** Options of startRegistry. */
export interface StartRegistryOptions {
  /** `basic`: htpasswd; `token`: Bearer tokens from a token server started beside it (default none). */
  auth?: 'none' | 'basic' | 'token';
  /** Users allowed in (default one: barge / s3cret-pass). */
  users?: RegistryUser[];
  /** With `token` auth: anonymous token requests get pull access (as on Docker Hub); default false. */
  anonymousPull?: boolean;
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (its PEM is `caCert`). */
  tls?: boolean;
}

/** One token request the token server answered, for assertions. */
export interface TokenRequest {
  user: string | undefined;
  service: string | undefined;
  scopes: string[];
  status: number;
}

/** A running registry; stop() it in `after`. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`, the host part of image references. */
  host: string;
  /** `http(s)://127.0.0.1:<port>`. */
  url: string;
  users: RegistryUser[];
  /** PEM of the self-signed server certificate when started with `tls`. */
  caCert: string | undefined;
  /** Requests seen by the token server (token auth only). */
  tokenRequests: TokenRequest[];
  /** Pushes `oci:<layout>:<tag>` to `<host>/<destination>` with skopeo (as the first user when auth is on). */
  push(layout: string, tag: string, destination: string, options?: PushOptions): Promise<void>;
  stop(): Promise<void>;
}

/** Options of TestRegistry.push. */
export interface PushOptions {
  /** Copy every image of an index (`skopeo copy --all`). */
  all?: boolean;
  /** Recompress layers (`--dest-compress-format`). */
  compress?: 'gzip' | 'zstd';
  /** Convert to Docker schema 2 manifests and lists (`--format v2s2`). */
  dockerFormat?: boolean;
}

const SERVICE = 'barge-test-registry';
const ISSUER = 'barge-test-token-issuer';

/** The Debian package of each program these helpers run. */
const TOOLS: Record<string, string> = {
  '/usr/bin/docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  umoci: 'umoci',
  htpasswd: 'apache2-utils',
  openssl: 'openssl',
};

/** Fails with the apt-get command to run when a program the helpers need is missing. */
function requireTools(): void {
  const missing = Object.entries(TOOLS).filter(([tool]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    throw new Error(`registry tests need Debian packages: apt-get install -y ${packages}`);
  }
}

/** Starts a docker-registry in `dir` (its config, data, log and keys live there). */
export async function startRegistry(dir: string, options: StartRegistryOptions = {}): Promise<TestRegistry> {
  requireTools();
  mkdirSync(dir, { recursive: true });
  const auth = options.auth ?? 'none';
  const users = options.users ?? [{ username: 'barge', password: 's3cret-pass' }];
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokenRequests: TokenRequest[] = [];
  let tokenServer: http.Server | undefined;
  let caCert: string | undefined;

  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
  ];
  if (options.tls) {
    caCert = selfSigned(dir, 'tls', true);
    config.push(
      '  tls:',
      `    certificate: ${path.join(dir, 'tls.crt')}`,
      `    key: ${path.join(dir, 'tls.key')}`,
    );
  }
  if (auth === 'basic') {
    const lines = users.map((u) =>
      execFileSync('htpasswd', ['-Bbn', u.username, u.password], { encoding: 'utf8' }),
    );
    writeFileSync(path.join(dir, 'htpasswd'), lines.map((l) => l.trim()).join('\n') + '\n');
    config.push('auth:', '  htpasswd:', '    realm: barge-test', `    path: ${path.join(dir, 'htpasswd')}`);
  }
  if (auth === 'token') {
    selfSigned(dir, 'token', false);
    const key = createPrivateKey(readFileSync(path.join(dir, 'token.key')));
    const certDer = new X509Certificate(readFileSync(path.join(dir, 'token.crt'))).raw;
    tokenServer = http.createServer((req, res) =>
      answerToken(
        req,
        res,
        { key, certDer, users, anonymousPull: options.anonymousPull ?? false },
        tokenRequests,
      ),
    );
    const tokenPort = await listen(tokenServer);
    config.push(
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${path.join(dir, 'token.crt')}`,
    );
  }
  const configPath = path.join(dir, 'config.yml');
  writeFileSync(configPath, config.join('\n') + '\n');

  const logPath = path.join(dir, 'registry.log');
  const log = openSync(logPath, 'a');
  const child = spawn('/usr/bin/docker-registry', ['serve', configPath], { stdio: ['ignore', log, log] });
  const url = `${options.tls ? 'https' : 'http'}://${host}`;
  await waitReady(child, port, logPath);

  return {
    host,
    url,
    users,
    caCert,
    tokenRequests,
    push(layout, tag, destination, pushOptions = {}) {
      const args = ['copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false'];
      const user = users[0];
      if (auth !== 'none' && user) args.push('--dest-creds', `${user.username}:${user.password}`);
      if (pushOptions.all) args.push('--all');
      if (pushOptions.compress) args.push('--dest-compress-format', pushOptions.compress);
      if (pushOptions.dockerFormat) args.push('--format', 'v2s2');
      args.push(`oci:${layout}:${tag}`, `docker://${host}/${destination}`);
      // Asynchronous: with token auth, skopeo asks the token server, which runs in this process.
      return run('skopeo', args);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (tokenServer) await close(tokenServer);
    },
  };
}

/** Runs a command to its end; rejects with its stderr when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${code}):\n${stderr}`)),
    );
  });
}

/** Listens on an ephemeral port of 127.0.0.1 and returns it. */
export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Closes a server, cutting kept-alive connections. */
export function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function waitReady(child: ChildProcess, port: number, logPath: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    // Any answer (200, or 401 with auth) means it listens; TLS is probed as a plain TCP connect.
    const up = await new Promise<boolean>((resolve) => {
      const socket = http
        .get({ host: '127.0.0.1', port, path: '/v2/', timeout: 500 }, (res) => {
          res.resume();
          resolve(true);
        })
        .on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNRESET'))
        .on('timeout', () => socket.destroy());
    });
    if (up) return;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry did not start on port ${port}:\n${readFileSync(logPath, 'utf8')}`);
}

/** A self-signed certificate `<name>.crt` / `<name>.key` in `dir`; returns its PEM. */
function selfSigned(dir: string, name: string, forServer: boolean): string {
  const args = [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=barge-test-${name}`,
  ];
  args.push('-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`));
  if (forServer) args.push('-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  execFileSync('openssl', args, { stdio: 'ignore' });
  return readFileSync(path.join(dir, `${name}.crt`), 'utf8');
}

interface TokenIssuer {
  key: ReturnType<typeof createPrivateKey>;
  certDer: Buffer;
  users: RegistryUser[];
  anonymousPull: boolean;
}

/**
 * The token endpoint of the Docker token spec: GET <realm>?service=…&scope=… with optional Basic
 * credentials answers `{token, access_token, expires_in, issued_at}`. Tokens are RS256 JWTs whose
 * `x5c` header carries the signing certificate, which the registry checks against its rootcertbundle.
 */
function answerToken(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  issuer: TokenIssuer,
  log: TokenRequest[],
): void {
  const url = new URL(req.url ?? '/', 'http://token');
  const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
  const service = url.searchParams.get('service') ?? undefined;
  let user: string | undefined;
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const [name, ...rest] = Buffer.from(header.slice(6), 'base64').toString().split(':');
    const known = issuer.users.find((u) => u.username === name && u.password === rest.join(':'));
    if (!known) {
      log.push({ user: name, service, scopes, status: 401 });
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    user = known.username;
  }
  const access = scopes.flatMap((scope) => {
    const [type, name, actions] = scope.split(':');
    if (type !== 'repository' || !name || !actions) return [];
    const granted = actions.split(',').filter((a) => (user ? true : issuer.anonymousPull && a === 'pull'));
    return granted.length > 0 ? [{ type, name, actions: granted }] : [];
  });
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, sub: user ?? '', aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now };
  const jwtHeader = { typ: 'JWT', alg: 'RS256', x5c: [issuer.certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(jwtHeader))}.${b64url(JSON.stringify({ ...claims, jti: randomBytes(8).toString('hex'), access }))}`;
  const signature = createSign('sha256').update(input).sign(issuer.key);
  const token = `${input}.${b64url(signature)}`;
  log.push({ user, service, scopes, status: 200 });
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(
    JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
  );
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** A platform of a test image. */
export interface TestPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

/** One image of buildOciLayout: files (path → content) inserted as one layer per entry of `layers`. */
export interface TestImageSpec {
  tag: string;
  platform?: TestPlatform;
  layers: Record<string, string | Buffer>[];
}

/**
 * Builds an OCI layout at `layout` with umoci (init, new, config, insert: one layer per entry of
 * `layers`), then adds, for each `indexes` entry, an OCI image index over the named tags with their
 * platforms. Every image also gets a random nonce file, so layers never collide with ones skopeo's
 * blob-info cache remembers from another test (it would reuse a gzip blob for a zstd push).
 */
export function buildOciLayout(
  layout: string,
  images: TestImageSpec[],
  indexes: { tag: string; of: string[] }[] = [],
): void {
  requireTools();
  const work = `${layout}.work`;
  execFileSync('umoci', ['init', '--layout', layout]);
  for (const image of images) {
    const ref = `${layout}:${image.tag}`;
    const platform = image.platform ?? { os: 'linux', architecture: 'amd64' };
    execFileSync('umoci', ['new', '--image', ref]);
    execFileSync('umoci', [
      'config',
      '--image',
      ref,
      '--os',
      platform.os,
      '--architecture',
      platform.architecture,
    ]);
    image.layers.forEach((files, i) => {
      const root = path.join(work, image.tag, String(i));
      const all = i === 0 ? { ...files, '.nonce': randomBytes(16).toString('hex') } : files;
      for (const [file, content] of Object.entries(all)) {
        mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        writeFileSync(path.join(root, file), content);
      }
      execFileSync('umoci', ['insert', '--rootless', '--image', ref, root, '/']);
    });
  }
  const indexPath = path.join(layout, 'index.json');
  const top = JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: Record<string, unknown>[] };
  for (const index of indexes) {
    const manifests = index.of.map((tag) => {
      const entry = top.manifests.find((m) => refName(m) === tag);
      if (!entry) throw new Error(`no image tagged ${tag} in ${layout}`);
      const platform = images.find((i) => i.tag === tag)?.platform ?? { os: 'linux', architecture: 'amd64' };
      return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform };
    });
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
    );
    const hex = createHash('sha256').update(body).digest('hex');
    writeFileSync(path.join(layout, 'blobs', 'sha256', hex), body);
    top.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${hex}`,
      size: body.length,
      annotations: { 'org.opencontainers.image.ref.name': index.tag },
    });
  }
  writeFileSync(indexPath, JSON.stringify(top));
}

function refName(descriptor: Record<string, unknown>): unknown {
  return (descriptor.annotations as Record<string, unknown> | undefined)?.[
    'org.opencontainers.image.ref.name'
  ];
}
