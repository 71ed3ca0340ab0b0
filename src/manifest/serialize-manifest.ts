import { BargeError } from '../error/index.js';
import { isHashText } from '../object/index.js';
import type { Manifest } from './manifest.js';

/**
 * The manifest body as cvmfs `Manifest::ExportString` writes it (spec §4.1): always
 * `C B R D S G A`, then `L N X H T M Y` when set, every line ending in `\n`. Unknown letters are
 * dropped, as cvmfs drops them when it re-signs. Values that would corrupt the line format or that
 * the client cannot parse are MANIFEST_INVALID: a broken manifest must never reach a signature.
 */
export function serializeManifest(m: Manifest): Buffer {
  const lines: string[] = [
    `C${hash(m.rootHash, 'C')}`,
    `B${count(m.rootSize, 'B')}`,
    `R${rootPath(m.rootPathHash)}`,
    `D${count(m.ttl, 'D')}`,
    `S${count(m.revision, 'S')}`,
    `G${m.garbageCollectable ? 'yes' : 'no'}`,
    `A${m.alternativePaths ? 'yes' : 'no'}`,
  ];
  if (m.microCatalog !== undefined) lines.push(`L${hash(m.microCatalog, 'L')}`);
  if (m.fqrn !== '') lines.push(`N${name(m.fqrn)}`);
  lines.push(`X${hash(m.certificate, 'X')}`);
  if (m.history !== undefined) lines.push(`H${hash(m.history, 'H')}`);
  // cvmfs omits T when it is 0 (`publish_timestamp_ > 0`).
  if (count(m.timestamp, 'T') > 0) lines.push(`T${m.timestamp}`);
  if (m.metainfo !== undefined) lines.push(`M${hash(m.metainfo, 'M')}`);
  if (m.reflog !== undefined) lines.push(`Y${hash(m.reflog, 'Y')}`);
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

function hash(value: string, letter: string): string {
  if (!isHashText(value)) throw bad(letter, `'${value.slice(0, 60)}' is not a content hash text`);
  return value;
}

function count(value: number, letter: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw bad(letter, `${value} is not a non-negative integer`);
  return value;
}

function rootPath(value: string): string {
  if (!/^[0-9a-f]{32}$/.test(value)) throw bad('R', `'${value.slice(0, 40)}' is not an MD5 hex digest`);
  return value;
}

function name(value: string): string {
  // A newline would inject letters; non-ASCII is refused by cvmfs tooling (conformance MANIFEST_FORMAT).
  if (!/^[\x21-\x7e]+$/.test(value)) throw bad('N', `'${value.slice(0, 60)}' is not a printable ASCII name`);
  return value;
}

function bad(letter: string, what: string): BargeError {
  return new BargeError('MANIFEST_INVALID', `cannot write manifest '${letter}': ${what}`, {
    hint: 'this is a bug in the caller that built the manifest',
  });
}
