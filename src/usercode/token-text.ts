import { createHash, randomBytes } from 'node:crypto';

/** Every barge token starts with this, so secret scanners and people can recognise one. */
export const TOKEN_PREFIX = 'barge_';

/**
 * `barge_<id>_<secret>`: a 16-hex-digit id (public: listed, revoked by) and 43 base64url
 * characters of 32 random bytes. The id has no `_`, so the first one after it ends it even
 * though base64url secrets may contain `_`.
 */
const TOKEN_TEXT = /^barge_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A token split into its public id and its secret. */
export interface TokenParts {
  id: string;
  secret: string;
}

/** A fresh token: new random id and secret. */
export function newToken(): TokenParts & { text: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, text: `${TOKEN_PREFIX}${id}_${secret}` };
}

/** The id and secret of a well-formed token text, else undefined. */
export function parseToken(text: string): TokenParts | undefined {
  const m = TOKEN_TEXT.exec(text);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

/**
 * What the store keeps of a secret: its SHA-256. A slow password hash would buy nothing here, as
 * the secret has 256 random bits (no dictionary to try), and would cost time on every request.
 * The text is hashed, not the decoded bytes, so no second spelling of the same bytes verifies.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
