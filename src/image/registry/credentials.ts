import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BargeError, errnoCode } from '../../error/index.js';
import { isObject } from './image-manifest.js';
import { DOCKER_HUB_ALIASES, DOCKER_HUB_REGISTRY } from './image-reference.js';

/** A user name and password (or access token used as password: ghcr, GitLab, Harbor robots). */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Where credentials come from; the first source that knows the registry wins, in this order. */
export interface CredentialOptions {
  /** Per registry host (`ghcr.io`, `127.0.0.1:5000`; `docker.io` for Docker Hub). */
  credentials?: Record<string, RegistryCredentials>;
  /** Environment to read `BARGE_REGISTRY_AUTH_<HOST>` and the config file location from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * A docker-style `config.json` (its `auths` section, as `docker login`, podman and skopeo write
   * it), or false for none. Default: `$BARGE_REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`,
   * else `~/.docker/config.json` when it exists.
   */
  dockerConfig?: string | false;
}

/** The environment variable that holds `user:password` for `host`: `BARGE_REGISTRY_AUTH_GHCR_IO`. */
export function credentialsVariable(host: string): string {
  return `BARGE_REGISTRY_AUTH_${host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Looks up credentials per registry host. Docker Hub answers to all its aliases (`docker.io`,
 * `index.docker.io`, `https://index.docker.io/v1/` as docker login writes it...).
 * Credential helpers (`credsStore`, `credHelpers`) and `identitytoken` entries are not read: they
 * would mean running other programs or an OAuth flow; use the environment variable instead.
 */
export class CredentialStore {
  private readonly options: CredentialOptions;
  private readonly env: NodeJS.ProcessEnv;
  private fileAuths: Map<string, RegistryCredentials> | undefined;

  constructor(options: CredentialOptions = {}) {
    this.options = options;
    this.env = options.env ?? process.env;
  }

  /** The credentials for a registry host, or undefined for anonymous access. */
  lookup(registry: string): RegistryCredentials | undefined {
    const names = hostNames(registry);
    const given = this.options.credentials ?? {};
    for (const [key, value] of Object.entries(given)) {
      if (names.includes(normalizeKey(key))) return value;
    }
    for (const name of names) {
      const variable = credentialsVariable(name);
      const value = this.env[variable];
      if (value) return splitUserPassword(value, variable);
    }
    this.fileAuths ??= this.readConfigFile();
    for (const name of names) {
      const found = this.fileAuths.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** Where credentials for `registry` are looked up, for error hints (never the secrets). */
  sources(registry: string): string {
    const file = this.configPath();
    const where = [
      `the ${credentialsVariable(hostNames(registry).at(-1) ?? registry)} environment variable (user:password)`,
    ];
    if (file) where.push(`the auths section of ${file}`);
    return where.join(' or ');
  }

  private configPath(): string | undefined {
    if (this.options.dockerConfig === false) return undefined;
    if (this.options.dockerConfig) return this.options.dockerConfig;
    if (this.env.BARGE_REGISTRY_AUTH_FILE) return this.env.BARGE_REGISTRY_AUTH_FILE;
    const dir = this.env.DOCKER_CONFIG ?? path.join(this.env.HOME ?? os.homedir(), '.docker');
    return path.join(dir, 'config.json');
  }

  private readConfigFile(): Map<string, RegistryCredentials> {
    const file = this.configPath();
    const out = new Map<string, RegistryCredentials>();
    if (file === undefined) return out;
    const explicit =
      this.options.dockerConfig !== undefined || this.env.BARGE_REGISTRY_AUTH_FILE !== undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      // The default location is optional; a file named on purpose must exist.
      if (!explicit && errnoCode(err) === 'ENOENT') return out;
      throw invalidFile(file, `cannot read it (${errnoCode(err) ?? (err as Error).message})`, err);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw invalidFile(file, 'it is not JSON', err);
    }
    if (!isObject(json)) throw invalidFile(file, 'it is not a JSON object');
    const auths = json.auths ?? {};
    if (!isObject(auths)) throw invalidFile(file, '"auths" is not an object');
    for (const [key, entry] of Object.entries(auths)) {
      if (!isObject(entry)) continue;
      let creds: RegistryCredentials | undefined;
      if (typeof entry.auth === 'string' && entry.auth !== '') {
        creds = splitUserPassword(
          Buffer.from(entry.auth, 'base64').toString('utf8'),
          `${file} auths["${key}"]`,
        );
      } else if (typeof entry.username === 'string' && typeof entry.password === 'string') {
        creds = { username: entry.username, password: entry.password };
      }
      if (creds) out.set(normalizeKey(key), creds);
    }
    return out;
  }
}

/** `user:password` (the password may hold colons). */
function splitUserPassword(value: string, where: string): RegistryCredentials {
  const colon = value.indexOf(':');
  if (colon <= 0) {
    // Never echo the value: it is a secret even when malformed.
    throw new BargeError('REGISTRY_CREDENTIALS_INVALID', `${where} is not of the form user:password`, {
      hint: 'set it to user:password (for token logins, the user the registry documents and the token as password)',
    });
  }
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function invalidFile(file: string, why: string, cause?: unknown): BargeError {
  return new BargeError('REGISTRY_CREDENTIALS_INVALID', `registry credentials file ${file}: ${why}`, {
    cause,
    hint: 'fix the file (docker login writes {"auths": {"<host>": {"auth": "<base64 user:password>"}}}) or point BARGE_REGISTRY_AUTH_FILE elsewhere',
    details: { file },
  });
}

/** A config.json key (`https://index.docker.io/v1/`, `ghcr.io`) as a bare lower-case host. */
function normalizeKey(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

/** The names a registry host is known by; Docker Hub's canonical `docker.io` last. */
function hostNames(registry: string): string[] {
  const host = registry.toLowerCase();
  if (host === DOCKER_HUB_REGISTRY || DOCKER_HUB_ALIASES.includes(host)) {
    return [...DOCKER_HUB_ALIASES.filter((a) => a !== 'docker.io'), 'docker.io'];
  }
  return [host];
}
