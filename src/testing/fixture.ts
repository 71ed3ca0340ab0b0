import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared reference repository written by the real CVMFS 2.11.5 server tools. */
export const FIXTURE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
  'reference.cvmfs.test',
);
export const FIXTURE_SERVED = path.join(FIXTURE_DIR, 'served');
export const FIXTURE_PUB = path.join(FIXTURE_DIR, 'reference.cvmfs.test.pub');
export const FIXTURE_FQRN = 'reference.cvmfs.test';

/** The raw bytes of a file of the served fixture (`.cvmfspublished`, `data/ab/…C`). */
export function fixtureFile(key: string): Buffer {
  return readFileSync(path.join(FIXTURE_SERVED, key));
}

/** The manifest letter values of the fixture (C, B, S, X, H...). */
export function fixtureManifest(): Map<string, string> {
  const text = fixtureFile('.cvmfspublished').toString('latin1');
  const body = text.slice(0, text.indexOf('\n--\n'));
  return new Map(body.split('\n').map((l) => [l[0] as string, l.slice(1)]));
}
