import { BargeError } from '../error/index.js';

/**
 * Checks a fully qualified repository name before it goes into key file names, certificate
 * subjects and manifest lines: at least one dot (the client splits off the domain and asserts,
 * spec §5.4), and only letters, digits, `-` and `_` between dots, so that it can neither escape a
 * directory nor inject a line. INVALID_FQRN otherwise.
 */
export function assertFqrn(fqrn: string): void {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(fqrn) || fqrn.length > 255) {
    throw new BargeError('INVALID_FQRN', `'${fqrn.slice(0, 80)}' is not a repository name`, {
      hint: 'use a dotted name such as software.example.org (letters, digits, - and _ between the dots)',
    });
  }
}
