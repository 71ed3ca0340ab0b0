import { readFileSync } from 'node:fs';
import { BargeError } from '../error/index.js';
import type { SigV4Credentials } from './sigv4.js';

/**
 * Where a repository's objects live in S3-compatible storage (repository.json `storage`). The
 * keys are `<prefix><fqrn>/<served path>`, so `endpoint/bucket/<prefix><fqrn>` is a repository
 * base URL. Credentials are never stored here: they come from the environment or a file.
 */
export interface S3StorageConfig {
  type: 's3';
  /** `http(s)://host[:port]` of the S3 service (path-style addressing: no bucket in the host). */
  endpoint: string;
  bucket: string;
  /** Key prefix before `<fqrn>/`: '' or a path ending in '/' (e.g. `cvmfs/`). */
  prefix: string;
  /** Signing region; RGW and MinIO accept any, AWS wants the bucket's. */
  region: string;
  /** Environment variables holding the key pair (default BARGE_S3_ACCESS_KEY, BARGE_S3_SECRET_KEY). */
  accessKeyEnv: string;
  secretKeyEnv: string;
  /** A file with `access_key = …` and `secret_key = …` lines (or AWS's aws_access_key_id and aws_secret_access_key), used when the environment has none. */
  credentialsFile?: string;
  /** Requests in flight at once (default 32). */
  concurrency: number;
}

/** Validates the `storage` of an S3 repository and fills in defaults; `where` names the file. */
export function parseS3Config(o: Record<string, unknown>, where: string): S3StorageConfig {
  const fail = (field: string, want: string): never => {
    throw new BargeError('INVALID_ARGUMENT', `${where}: storage.${field} must be ${want}`);
  };
  const text = (field: string, fallback?: string): string => {
    const v = o[field] ?? fallback;
    return typeof v === 'string' && v !== '' ? v : fail(field, 'a non-empty string');
  };
  const endpoint = text('endpoint').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(endpoint))
    fail('endpoint', 'an http(s) URL such as http://rgw.example.org:7480');
  const bucket = text('bucket');
  // S3's bucket naming rules (DNS-compatible), which path-style URLs do not need but AWS enforces.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    fail('bucket', 'a bucket name (3-63 of a-z 0-9 . -)');
  let prefix = o.prefix ?? '';
  if (typeof prefix !== 'string') prefix = fail('prefix', 'a string');
  prefix = (prefix as string).replace(/^\/+/, '');
  if (prefix !== '' && !(prefix as string).endsWith('/')) prefix = `${prefix}/`;
  if (prefix !== '' && !/^([A-Za-z0-9._-]+\/)+$/.test(prefix as string)) {
    fail('prefix', 'path segments of letters, digits and . _ - (e.g. cvmfs/)');
  }
  if ((prefix as string).split('/').some((s) => s === '.' || s === '..'))
    fail('prefix', 'free of . and .. segments');
  const concurrency = o.concurrency ?? 32;
  if (!Number.isSafeInteger(concurrency) || (concurrency as number) < 1)
    fail('concurrency', 'a positive integer');
  const credentialsFile = o.credentialsFile;
  if (credentialsFile !== undefined && typeof credentialsFile !== 'string')
    fail('credentialsFile', 'a file path');
  return {
    type: 's3',
    endpoint,
    bucket,
    prefix: prefix as string,
    region: text('region', 'us-east-1'),
    accessKeyEnv: text('accessKeyEnv', 'BARGE_S3_ACCESS_KEY'),
    secretKeyEnv: text('secretKeyEnv', 'BARGE_S3_SECRET_KEY'),
    ...(credentialsFile ? { credentialsFile: credentialsFile as string } : {}),
    concurrency: concurrency as number,
  };
}

/**
 * The key pair of an S3 repository: from the environment variables the config names, else from
 * its credentials file; undefined when neither has one (requests then go unsigned, which only a
 * public bucket answers). The secret is never put in a message.
 */
export function s3Credentials(
  config: S3StorageConfig,
  env: NodeJS.ProcessEnv = process.env,
): SigV4Credentials | undefined {
  const accessKeyId = env[config.accessKeyEnv];
  const secretAccessKey = env[config.secretKeyEnv];
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey };
  if (!config.credentialsFile) return undefined;
  let text: string;
  try {
    text = readFileSync(config.credentialsFile, 'utf8');
  } catch (cause) {
    throw new BargeError('STORAGE_DENIED', `cannot read the S3 credentials file ${config.credentialsFile}`, {
      cause,
      hint: `make it readable by this user, or set ${config.accessKeyEnv} and ${config.secretKeyEnv}`,
    });
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    // The first pair wins: in an AWS credentials file that is the first profile's.
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    const name = m?.[1]?.toLowerCase();
    if (m && name && !values.has(name)) values.set(name, m[2] as string);
  }
  const access = values.get('access_key') ?? values.get('aws_access_key_id');
  const secret = values.get('secret_key') ?? values.get('aws_secret_access_key');
  if (!access || !secret) {
    throw new BargeError(
      'STORAGE_DENIED',
      `the S3 credentials file ${config.credentialsFile} has no key pair`,
      {
        hint: 'write two lines: access_key = … and secret_key = …',
      },
    );
  }
  return { accessKeyId: access, secretAccessKey: secret };
}
