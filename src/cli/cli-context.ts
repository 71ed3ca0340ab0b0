import path from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { BargeError } from '../error/index.js';

/** Where output goes; commands never touch process.stdout directly (tests capture it). */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The data directory: --data, else $BARGE_DATA, else ./barge-data. */
export function dataDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.BARGE_DATA ?? 'barge-data');
}

/** parseArgs with usage errors as INVALID_ARGUMENT. */
export function parse<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
  positionals: { min: number; max: number; usage: string },
) {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new BargeError('INVALID_ARGUMENT', (cause as Error).message, {
      hint: `usage: ${positionals.usage}`,
    });
  }
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    throw new BargeError('INVALID_ARGUMENT', 'wrong number of arguments', {
      hint: `usage: ${positionals.usage}`,
    });
  }
  return parsed;
}

/** Human-readable bytes (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
