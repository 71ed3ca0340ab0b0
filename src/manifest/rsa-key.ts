import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { BargeError } from '../error/index.js';

/** A PEM text or a key Node already parsed. */
export type KeyInput = string | Buffer | KeyObject;

/**
 * An RSA private key from PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, as cvmfs reads both).
 * Anything else, including an encrypted key, is KEY_INVALID naming `what`: cvmfs signs with RSA
 * only (`PEM_read_RSAPrivateKey`, `RSA_private_encrypt`).
 */
export function loadRsaPrivateKey(input: KeyInput, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = typeof input === 'object' && !Buffer.isBuffer(input) ? input : createPrivateKey(input);
  } catch (cause) {
    throw new BargeError('KEY_INVALID', `${what} is not an unencrypted PEM private key`, {
      cause,
      hint: 'cvmfs keys are unencrypted RSA PEM files; decrypt it with `openssl rsa -in KEY -out KEY.plain`',
    });
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
    throw new BargeError(
      'KEY_INVALID',
      `${what} is a ${key.asymmetricKeyType ?? key.type} key, not an RSA private key`,
      {
        hint: 'CernVM-FS signs with RSA keys only (cvmfs_server uses `openssl genrsa 2048`)',
      },
    );
  }
  return key;
}

/** An RSA public key from a SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`, what clients load, spec §5.2). */
export function loadRsaPublicKey(input: KeyInput, what: string): KeyObject {
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = input.toString();
    // The client reads keys with PEM_read_PUBKEY, which does not accept PKCS#1 "RSA PUBLIC KEY".
    if (!text.includes('-----BEGIN PUBLIC KEY-----')) {
      throw new BargeError('KEY_INVALID', `${what} is not a "BEGIN PUBLIC KEY" PEM file`, {
        hint: 'derive it from the master key with `openssl rsa -in <fqrn>.masterkey -pubout`',
      });
    }
  }
  let key: KeyObject;
  try {
    key = typeof input === 'object' && !Buffer.isBuffer(input) ? input : createPublicKey(input);
  } catch (cause) {
    throw new BargeError('KEY_INVALID', `${what} does not parse as a PEM public key`, { cause });
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa') {
    throw new BargeError('KEY_INVALID', `${what} is not an RSA public key`, {
      hint: 'CernVM-FS master keys are RSA keys',
    });
  }
  return key;
}

/** The modulus size of an RSA key in bytes, i.e. the length of its signatures. */
export function modulusBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}
