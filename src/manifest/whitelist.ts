import { BargeError } from '../error/index.js';
import { formatFingerprint, parseFingerprint } from './fingerprint.js';

/** The signed list of certificates allowed to sign a repository's manifests, `.cvmfswhitelist` (spec §5.1). */
export interface Whitelist {
  /** Line 1 as written: the creation time `YYYYMMDDhhmmss` (the client checks only its length). */
  created: string;
  /** Line 2 without its letter: the expiry time `YYYYMMDDhhmmss`, UTC. */
  expiry: string;
  /** The first instant at which clients refuse the whitelist: the start of the expiry hour. */
  expires: Date;
  /** Line 3 without its `N`. */
  fqrn: string;
  /** `Vpkcs7`: verify `.cvmfswhitelist.pkcs7` against a CA store instead of the master key. */
  verifyPkcs7: boolean;
  /** `Wcachain`: also verify the certificate against a CA store. */
  verifyCaChain: boolean;
  /** Certificate fingerprints in canonical form (`AB:CD:…`), lines the client skips left out. */
  fingerprints: string[];
}

/**
 * Parses a whitelist as cvmfs `Whitelist::ParseWhitelist` does: line 1 exactly 14 characters,
 * line 2 exactly 15 (a letter, then the UTC expiry; the letter is not checked), line 3 `N<fqrn>`,
 * optional `Vpkcs7` and `Wcachain`, then fingerprint lines up to `--`. Stricter than the client, a
 * non-numeric or impossible expiry date is WHITELIST_INVALID rather than read as zeros.
 */
export function parseWhitelist(bytes: Uint8Array): Whitelist {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let pos = 0;
  const next = (): string => {
    const nl = text.indexOf('\n', pos);
    const line = text.slice(pos, nl < 0 ? text.length : nl);
    pos += line.length + 1;
    return line;
  };
  const created = next();
  if (created.length !== 14)
    throw invalid('line 1 must be the 14-character creation time YYYYMMDDhhmmss', created);
  const line2 = next();
  if (line2.length !== 15)
    throw invalid("line 2 must be 'E' and the 14-character expiry time YYYYMMDDhhmmss", line2);
  const expiry = line2.slice(1);
  const expires = expiryHour(expiry);
  const line3 = next();
  if (!line3.startsWith('N') || line3.length < 2)
    throw invalid("line 3 must be 'N' and the repository name", line3);

  let line = next();
  const verifyPkcs7 = line === 'Vpkcs7';
  if (verifyPkcs7) line = next();
  const verifyCaChain = line === 'Wcachain';
  if (verifyCaChain) line = next();
  const fingerprints: string[] = [];
  for (;;) {
    if (line === '--') break;
    const hash = parseFingerprint(line);
    if (hash !== undefined) fingerprints.push(formatFingerprint(hash));
    if (pos >= text.length) break;
    line = next();
  }
  return { created, expiry, expires, fqrn: line3.slice(1), verifyPkcs7, verifyCaChain, fingerprints };
}

/** The start of the UTC hour of `YYYYMMDDhhmmss`: cvmfs zeroes minutes and seconds (`IsBefore`). */
function expiryHour(digits: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})\d{4}$/.exec(digits);
  if (m) {
    const [y, mo, d, h] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    const date = new Date(Date.UTC(y, mo - 1, d, h));
    // Date.UTC rolls 31 April into May; the client would compare the raw fields. Refuse both.
    if (date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24) {
      return date;
    }
  }
  throw invalid('the expiry time on line 2 is not a valid UTC date', digits);
}

function invalid(what: string, found: string): BargeError {
  return new BargeError('WHITELIST_INVALID', `malformed whitelist: ${what}`, {
    hint: 'the repository owner must re-sign the whitelist',
    details: { found: found.slice(0, 80) },
  });
}
