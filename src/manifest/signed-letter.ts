import { BargeError, type ErrorCode } from '../error/index.js';
import { type HashAlgorithm, hashAlgorithm, hashBytes, isHashText } from '../object/index.js';

/** The three parts of a signed letter (manifest or whitelist), split as the client splits them. */
export interface SignedLetter {
  /** Every byte before `--`, including the newline that ends the last line: what the hash line hashes. */
  body: Buffer;
  /** The hash text on the line after `--` (lowercase hex plus algorithm id). */
  hashText: string;
  /** Its algorithm, decided by the text's length as `MkFromHexPtr` does. */
  algorithm: HashAlgorithm;
  /** Every byte after the hash line's newline, up to the end of the file (no trailing newline). */
  signature: Buffer;
}

const SEPARATOR = Buffer.from('\n--\n', 'latin1');

/**
 * Splits `bytes` at the first `\n--\n` (cvmfs `CutLetter`) and checks the hash line against the
 * body (`VerifyLetter`, spec §4.2/§5.1); the signature itself is left to the caller, because the
 * manifest and the whitelist sign it differently. Failures are SIGNATURE_INVALID naming `what`.
 */
export function openSignedLetter(bytes: Uint8Array, what: string): SignedLetter {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cut = buf.indexOf(SEPARATOR);
  if (cut < 0) throw invalid('SIGNATURE_INVALID', `${what} has no "--" line, so it is not signed`);
  const body = buf.subarray(0, cut + 1);
  const hashStart = cut + SEPARATOR.length;
  const hashEnd = buf.indexOf(0x0a, hashStart);
  // The client refuses a letter whose hash line is not terminated (nothing can follow it).
  if (hashEnd < 0) throw invalid('SIGNATURE_INVALID', `${what} ends inside the hash line after "--"`);
  const hashText = buf.toString('latin1', hashStart, hashEnd);
  if (!isHashText(hashText)) {
    throw invalid('SIGNATURE_INVALID', `${what}: the line after "--" is not a hash text`, {
      found: hashText.slice(0, 80),
    });
  }
  const algorithm = hashAlgorithm(hashText);
  const computed = hashBytes(body, algorithm);
  if (computed !== hashText) {
    throw invalid(
      'SIGNATURE_INVALID',
      `${what}: the body does not match its hash line; it was changed after signing`,
      {
        expected: computed,
        found: hashText,
      },
    );
  }
  const signature = buf.subarray(hashEnd + 1);
  if (signature.length === 0)
    throw invalid('SIGNATURE_INVALID', `${what} has no signature bytes after the hash line`);
  return { body, hashText, algorithm, signature };
}

/** Joins body, `--`, hash line and signature into the bytes cvmfs writes (no trailing newline). */
export function joinSignedLetter(body: Buffer, hashText: string, signature: Buffer): Buffer {
  return Buffer.concat([body, Buffer.from(`--\n${hashText}\n`, 'latin1'), signature]);
}

function invalid(code: ErrorCode, message: string, details?: Record<string, unknown>): BargeError {
  return new BargeError(code, message, {
    hint: 'fetch it again; if it stays so, the publisher must re-sign it',
    ...(details ? { details } : {}),
  });
}
