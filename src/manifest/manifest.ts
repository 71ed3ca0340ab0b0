import { BargeError } from '../error/index.js';
import { type HashText, isHashText } from '../object/index.js';

/** MD5 of the empty root path: the only `R` the client accepts (`kFailRootMismatch` otherwise, spec §4.1). */
export const ROOT_PATH_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/**
 * The signed manifest `.cvmfspublished` (spec §4.1), one field per letter. Optional letters the
 * client treats as absent when missing are optional here; the rest carry the client's default.
 */
export interface Manifest {
  /** C: root catalog hash (suffix `C` implied). */
  rootHash: HashText;
  /** B: size in bytes of the uncompressed root catalog (0 when absent). */
  rootSize: number;
  /** R: MD5 of the root path, 32 hex digits; must be ROOT_PATH_MD5 for a mount. */
  rootPathHash: string;
  /** D: root catalog TTL in seconds. */
  ttl: number;
  /** S: revision, equal to the root catalog's `revision` property. */
  revision: number;
  /** G: whether garbage collection may delete unreferenced objects. */
  garbageCollectable: boolean;
  /** A: whether clients fetch the root catalog and certificate through `.cvmfsalt-*` links. */
  alternativePaths: boolean;
  /** L: micro catalog hash, reserved by cvmfs and unused. */
  microCatalog?: HashText;
  /** N: the repository name ('' when absent, as the client keeps it; such a manifest never mounts). */
  fqrn: string;
  /** X: certificate object hash (suffix `X` implied; the object is zlib-compressed PEM). */
  certificate: HashText;
  /** H: history (tag) database hash (suffix `H`). */
  history?: HashText;
  /** T: publish time in Unix seconds (0 when absent; must grow with every publish, spec §4.4). */
  timestamp: number;
  /** M: meta-info JSON object hash (suffix `M`). */
  metainfo?: HashText;
  /** Y: hash of the raw `.cvmfsreflog` at signing time (no suffix). */
  reflog?: HashText;
  /** Letters cvmfs does not know (and `Z`, reserved), kept as parsed; the writer does not emit them. */
  unknownKeys: Record<string, string>;
}

const KNOWN = new Set('CBRDSGALNXHTMY');

/**
 * Parses the body of a manifest exactly as the client's `ParseKeyvalMem` does (spec §4.1): lines up
 * to the first line that is `--`, empty lines skipped, key = first byte, later duplicates win, `Z`
 * values joined with `|`, a last line without newline ignored. Then, stricter than the client, a
 * malformed value is MANIFEST_INVALID instead of silently 0: barge never signs or trusts one.
 */
export function parseManifest(bytes: Uint8Array): Manifest {
  const keys = parseKeyValues(bytes);
  const get = (letter: string): string | undefined => keys.get(letter);
  const unknownKeys: Record<string, string> = {};
  for (const [k, v] of keys) if (!KNOWN.has(k)) unknownKeys[k] = v;

  const manifest: Manifest = {
    rootHash: requiredHash(get('C'), 'C', 'root catalog hash'),
    rootSize: decimal(get('B') ?? '0', 'B'),
    rootPathHash: required(get('R'), 'R', 'root path hash'),
    ttl: decimal(required(get('D'), 'D', 'TTL'), 'D'),
    revision: decimal(required(get('S'), 'S', 'revision'), 'S'),
    garbageCollectable: get('G') === 'yes',
    alternativePaths: get('A') === 'yes',
    fqrn: get('N') ?? '',
    // The client parses a manifest without X but cannot verify it; nothing useful reads one.
    certificate: requiredHash(get('X'), 'X', 'certificate hash'),
    timestamp: decimal(get('T') ?? '0', 'T'),
    unknownKeys,
  };
  const optional: [letter: string, field: 'microCatalog' | 'history' | 'metainfo' | 'reflog'][] = [
    ['L', 'microCatalog'],
    ['H', 'history'],
    ['M', 'metainfo'],
    ['Y', 'reflog'],
  ];
  for (const [letter, field] of optional) {
    const v = get(letter);
    if (v !== undefined) manifest[field] = hashValue(v, letter);
  }
  return manifest;
}

function parseKeyValues(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  // latin1 maps every byte to one char, so nothing is lost before the checks below.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    const line = text.slice(start, nl);
    start = nl + 1;
    if (line === '--') break;
    if (line === '') continue;
    const key = line[0] as string;
    const value = line.slice(1);
    const prev = out.get(key);
    out.set(key, key === 'Z' && prev !== undefined ? `${prev}|${value}` : value);
  }
  return out;
}

function required(value: string | undefined, letter: string, what: string): string {
  if (value === undefined) {
    throw new BargeError('MANIFEST_INVALID', `the manifest lacks '${letter}' (${what})`, {
      hint: 'the client refuses such a manifest; the publisher must write a complete one',
    });
  }
  return value;
}

function requiredHash(value: string | undefined, letter: string, what: string): HashText {
  return hashValue(required(value, letter, what), letter);
}

function hashValue(value: string, letter: string): HashText {
  if (!isHashText(value)) {
    throw new BargeError(
      'MANIFEST_INVALID',
      `manifest '${letter}' is not a content hash: '${value.slice(0, 60)}'`,
      {
        hint: 'expected 40 lowercase hex digits, optionally followed by -rmd160 or -shake128, no suffix',
      },
    );
  }
  return value;
}

function decimal(value: string, letter: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new BargeError(
      'MANIFEST_INVALID',
      `manifest '${letter}' is not a decimal number: '${value.slice(0, 40)}'`,
    );
  }
  return n;
}
