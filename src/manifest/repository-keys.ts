import { createPublicKey, generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BargeError, errnoCode } from '../error/index.js';
import { createCertificate, loadCertificate } from './certificate.js';
import { assertFqrn } from './fqrn.js';
import { loadRsaPrivateKey, loadRsaPublicKey } from './rsa-key.js';

/** An RSA-2048 key pair as PEM (PKCS#1 private, SPKI public), generated on the thread pool. */
function generateRsaPem(): Promise<{ privateKey: string; publicKey: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: 2048,
        publicExponent: 0x10001,
        // PKCS#1 "RSA PRIVATE KEY" is what `openssl genrsa` wrote before OpenSSL 3; every cvmfs reads it.
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, publicKey, privateKey) => (err ? reject(err) : resolve({ privateKey, publicKey })),
    );
  });
}

/** The key files of a repository, as PEM text (cvmfs_server keeps them in /etc/cvmfs/keys). */
export interface RepositoryKeys {
  /** `<fqrn>.masterkey`: signs the whitelist. Keep it offline if you can. */
  masterKeyPem: string;
  /** `<fqrn>.pub`: the master public key, the one file clients need (CVMFS_PUBLIC_KEY). */
  publicKeyPem: string;
  /** `<fqrn>.key`: the certificate's private key, signs every manifest. */
  certificateKeyPem: string;
  /** `<fqrn>.crt`: the self-signed certificate uploaded as the X object. */
  certificatePem: string;
}

/** File suffix, field and mode of each key file; private keys are owner-only. */
const FILES = [
  ['.masterkey', 'masterKeyPem', 0o600],
  ['.pub', 'publicKeyPem', 0o644],
  ['.key', 'certificateKeyPem', 0o600],
  ['.crt', 'certificatePem', 0o644],
] as const;

/**
 * A fresh key set as `cvmfs_server mkfs` makes it (spec §5.3): two RSA-2048 key pairs (master and
 * certificate) and a self-signed certificate valid for 365 days. Generated off the event loop.
 */
export async function generateRepositoryKeys(fqrn: string, now: Date = new Date()): Promise<RepositoryKeys> {
  assertFqrn(fqrn);
  const [master, cert] = await Promise.all([generateRsaPem(), generateRsaPem()]);
  return {
    masterKeyPem: master.privateKey,
    publicKeyPem: master.publicKey,
    certificateKeyPem: cert.privateKey,
    certificatePem: createCertificate({ fqrn, keyPem: cert.privateKey, days: 365, notBefore: now }),
  };
}

/**
 * Writes `<dir>/<fqrn>.masterkey` (0600), `.pub` (0644), `.key` (0600) and `.crt` (0644). Each file
 * appears atomically and is never overwritten: losing a master key orphans every client that
 * trusts it. A file that already holds the same bytes is accepted (a rerun); different bytes are
 * KEY_EXISTS.
 */
export async function writeRepositoryKeys(dir: string, fqrn: string, keys: RepositoryKeys): Promise<void> {
  assertFqrn(fqrn);
  await mkdir(dir, { recursive: true });
  for (const [suffix, field, mode] of FILES) {
    await writeNew(path.join(dir, fqrn + suffix), keys[field], mode);
  }
}

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode, flag: 'wx' });
    await chmod(temp, mode); // the umask may have cleared bits of `mode` at creation
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw ioError(err, temp);
  }
  try {
    await link(temp, file); // fails on an existing file, unlike rename
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw ioError(err, file);
    const existing = await readFile(file, 'utf8');
    if (existing !== text) {
      throw new BargeError('KEY_EXISTS', `${file} already exists with other content`, {
        hint: 'refusing to replace a repository key; move the old file away first if you really mean to',
        details: { file },
      });
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Reads and cross-checks the four key files of `fqrn` in `dir`: each must parse, `.pub` must be the
 * public half of `.masterkey`, and `.crt` must hold the public half of `.key`, since a mismatch
 * produces a repository no client mounts. KEY_NOT_FOUND or KEY_INVALID name the file.
 */
export async function readRepositoryKeys(dir: string, fqrn: string): Promise<RepositoryKeys> {
  assertFqrn(fqrn);
  const read = async (suffix: string): Promise<string> => {
    const file = path.join(dir, fqrn + suffix);
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new BargeError('KEY_NOT_FOUND', `${file} does not exist`, {
          hint: `copy ${fqrn}${suffix} from the machine that created the repository (cvmfs_server keeps it in /etc/cvmfs/keys), or create new keys for a new repository`,
          details: { file },
        });
      }
      throw ioError(err, file);
    }
  };
  const keys: RepositoryKeys = {
    masterKeyPem: await read('.masterkey'),
    publicKeyPem: await read('.pub'),
    certificateKeyPem: await read('.key'),
    certificatePem: await read('.crt'),
  };
  const file = (suffix: string): string => path.join(dir, fqrn + suffix);
  const master = loadRsaPrivateKey(keys.masterKeyPem, file('.masterkey'));
  const pub = loadRsaPublicKey(keys.publicKeyPem, file('.pub'));
  const spki = (k: typeof pub): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(pub).equals(spki(createPublicKey(master)))) {
    throw new BargeError('KEY_INVALID', `${file('.pub')} is not the public half of ${file('.masterkey')}`, {
      hint: `clients verify the whitelist with ${fqrn}.pub; regenerate it: openssl rsa -in ${fqrn}.masterkey -pubout`,
    });
  }
  const certKey = loadRsaPrivateKey(keys.certificateKeyPem, file('.key'));
  let cert: ReturnType<typeof loadCertificate>;
  try {
    cert = loadCertificate(keys.certificatePem);
  } catch (err) {
    throw new BargeError('KEY_INVALID', `${file('.crt')} is not a PEM X.509 certificate`, { cause: err });
  }
  if (!cert.checkPrivateKey(certKey)) {
    throw new BargeError('KEY_INVALID', `${file('.crt')} does not belong to ${file('.key')}`, {
      hint: 'manifests signed with this key would not verify; restore the matching pair or create a new certificate',
    });
  }
  return keys;
}

function ioError(err: unknown, file: string): BargeError {
  return new BargeError('IO_ERROR', `cannot access ${file}: ${(err as Error).message}`, {
    cause: err,
    details: { file },
  });
}
