import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BargeError } from '../error/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { openObjectStore, parseStorageConfig } from './open-store.js';
import { S3ObjectStore } from './s3-store.js';

const S3 = { type: 's3', endpoint: 'http://rgw.example.org:7480/', bucket: 'cvmfs' };

describe('storage configuration', () => {
  it('defaults to the filesystem', () => {
    assert.deepEqual(parseStorageConfig(undefined, 'repository.json'), { type: 'fs' });
  });

  it('fills in the S3 defaults and normalises the prefix', () => {
    const c = parseStorageConfig({ ...S3, prefix: '/stratum0' }, 'repository.json');
    assert.deepEqual(c, {
      type: 's3',
      endpoint: 'http://rgw.example.org:7480',
      bucket: 'cvmfs',
      prefix: 'stratum0/',
      region: 'us-east-1',
      accessKeyEnv: 'BARGE_S3_ACCESS_KEY',
      secretKeyEnv: 'BARGE_S3_SECRET_KEY',
      concurrency: 32,
    });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown type', { type: 'gcs' }, /storage.type must be "fs" or "s3"/],
    ['no endpoint', { type: 's3', bucket: 'b' }, /storage.endpoint/],
    ['an endpoint that is not http(s)', { ...S3, endpoint: 'ftp://x' }, /storage.endpoint/],
    ['an invalid bucket name', { ...S3, bucket: 'Bad_Bucket' }, /storage.bucket/],
    ['a prefix with ..', { ...S3, prefix: 'a/../b' }, /storage.prefix/],
    ['a zero concurrency', { ...S3, concurrency: 0 }, /storage.concurrency/],
  ];
  for (const [what, input, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseStorageConfig(input, 'repository.json'),
        (e) => e instanceof BargeError && e.code === 'INVALID_ARGUMENT' && message.test(e.message),
      );
    });
  }

  it('takes credentials from the environment before the credentials file', () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'credentials');
      writeFileSync(file, '[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = filesecret\n');
      const config = parseStorageConfig({ ...S3, credentialsFile: file }, 'repository.json');
      const paths = { fqrn: 'sw.example.org', served: tmp.dir };
      const fromFile = openObjectStore(paths, { durable: true, storage: config }, {});
      const fromEnv = openObjectStore(
        paths,
        { durable: true, storage: config },
        { BARGE_S3_ACCESS_KEY: 'FROMENV', BARGE_S3_SECRET_KEY: 'envsecret' },
      );
      assert.ok(fromFile instanceof S3ObjectStore && fromEnv instanceof S3ObjectStore);
      // The credentials are private to the client; what the store shows is where it points.
      assert.equal(fromFile.location, 'http://rgw.example.org:7480/cvmfs/sw.example.org/');
      assert.equal(
        (fromFile.client as unknown as { credentials: { accessKeyId: string } }).credentials.accessKeyId,
        'FROMFILE',
      );
      assert.equal(
        (fromEnv.client as unknown as { credentials: { accessKeyId: string } }).credentials.accessKeyId,
        'FROMENV',
      );
    } finally {
      tmp.cleanup();
    }
  });

  it('reports a credentials file without a key pair', () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'credentials');
      writeFileSync(file, 'access_key = only-half\n');
      const config = parseStorageConfig({ ...S3, credentialsFile: file }, 'repository.json');
      assert.throws(
        () =>
          openObjectStore(
            { fqrn: 'sw.example.org', served: tmp.dir },
            { durable: true, storage: config },
            {},
          ),
        (e) => e instanceof BargeError && e.code === 'STORAGE_DENIED',
      );
    } finally {
      tmp.cleanup();
    }
  });
});
