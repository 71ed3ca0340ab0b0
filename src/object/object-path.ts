import type { HashText } from './hash.js';

/** One-character object suffixes (spec §1.1); the suffix is not part of the hash. */
export type ObjectSuffix = '' | 'C' | 'P' | 'H' | 'X' | 'M';

/** Object suffixes by what they hold. */
export const Suffix = {
  none: '',
  catalog: 'C',
  partial: 'P',
  history: 'H',
  certificate: 'X',
  metainfo: 'M',
} as const satisfies Record<string, ObjectSuffix>;

/** The path of an object relative to the repository base URL: `data/XX/rest<suffix>`. */
export function objectPath(hash: HashText, suffix: ObjectSuffix = ''): string {
  return `data/${hash.slice(0, 2)}/${hash.slice(2)}${suffix}`;
}

/** The inverse of objectPath: hash text and suffix of a `data/XX/...` key, or undefined. */
export function parseObjectPath(key: string): { hash: HashText; suffix: ObjectSuffix } | undefined {
  const m = /^data\/([0-9a-f]{2})\/([0-9a-f]{38}(?:-rmd160|-shake128)?)([CPHXM]?)$/.exec(key);
  if (!m) return undefined;
  return { hash: `${m[1]}${m[2]}`, suffix: (m[3] ?? '') as ObjectSuffix };
}
