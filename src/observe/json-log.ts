import { isBargeError } from '../error/index.js';

/** How bad an event is. */
export type LogLevel = 'info' | 'warn' | 'error';

/** Fields of one event, beside its time, level and name. */
export type LogFields = Record<string, unknown>;

/** A structured logger: one JSON object per line, one line per event. */
export interface JsonLog {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` (a request id, a repository) to every event. */
  with(fields: LogFields): JsonLog;
}

/**
 * A logger writing each event as one line of JSON to `write`: `time`, `level`, `event` first, then
 * the fields. Errors become `{code, message}` (plus the stack for anything that is not a
 * BargeError, which is a bug), so a line never carries an object that cannot be serialised.
 */
export function createJsonLog(write: (line: string) => void, base: LogFields = {}): JsonLog {
  const emit = (level: LogLevel, event: string, fields: LogFields = {}) => {
    const record: LogFields = { time: new Date().toISOString(), level, event, ...base };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) record[k] = plain(v);
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, event, note: 'fields not serialisable' });
    }
    write(line);
  };
  return {
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    with: (fields) => createJsonLog(write, { ...base, ...fields }),
  };
}

/** A logger that drops everything (tests, library use). */
export const SILENT_LOG: JsonLog = {
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => SILENT_LOG,
};

function plain(v: unknown): unknown {
  if (isBargeError(v)) return { code: v.code, message: v.message };
  if (v instanceof Error) return { code: (v as { code?: string }).code, message: v.message, stack: v.stack };
  if (typeof v === 'bigint') return Number(v);
  return v;
}
