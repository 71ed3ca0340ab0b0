import { BargeError } from '../error/index.js';

const HOUR = 3600_000;
const UNIT_MS: Record<string, number> = { h: HOUR, d: 24 * HOUR, w: 7 * 24 * HOUR };

/** An ISO 8601 date, optionally with a time (Date.parse alone accepts far looser text). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A token lifetime as an operator writes it: `12h`, `30d`, `2w` from `now`, an ISO date
 * (`2027-01-01`, `2027-01-01T00:00:00Z`), or `never` (null). Minutes are not offered: `m` reads
 * as months to some. INVALID_ARGUMENT for anything else or for a moment not after `now`.
 */
export function parseExpiry(text: string, now: Date = new Date()): Date | null {
  if (text === 'never') return null;
  const relative = /^([1-9]\d{0,5})([hdw])$/.exec(text);
  let at: Date | undefined;
  if (relative)
    at = new Date(now.getTime() + Number(relative[1]) * (UNIT_MS[relative[2] as string] as number));
  else if (ISO_DATE.test(text) && realDay(text) && !Number.isNaN(Date.parse(text))) at = new Date(text);
  if (at === undefined) {
    throw new BargeError('INVALID_ARGUMENT', `'${text}' is not a token lifetime`, {
      hint: 'use e.g. 12h, 30d, 2w, an ISO date such as 2027-01-01T00:00:00Z, or never',
    });
  }
  if (at.getTime() <= now.getTime()) {
    throw new BargeError('INVALID_ARGUMENT', `expiry ${at.toISOString()} is not in the future`, {
      hint: 'give a later date, or a lifetime such as 30d',
    });
  }
  return at;
}

/** Whether the `YYYY-MM-DD` a text starts with is a calendar day (Date.parse rolls 02-30 into March). */
function realDay(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
}
