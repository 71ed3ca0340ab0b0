import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { parseExpiry } from './token-expiry.js';

const NOW = new Date('2026-06-01T12:00:00Z');

describe('parseExpiry', () => {
  it('reads lifetimes, dates and never', () => {
    const cases: [string, string | null][] = [
      ['never', null],
      ['12h', '2026-06-02T00:00:00.000Z'],
      ['30d', '2026-07-01T12:00:00.000Z'],
      ['2w', '2026-06-15T12:00:00.000Z'],
      ['2027-01-01', '2027-01-01T00:00:00.000Z'],
      ['2027-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
      ['2027-01-01T02:00:00+02:00', '2027-01-01T00:00:00.000Z'],
    ];
    for (const [text, iso] of cases) assert.equal(parseExpiry(text, NOW)?.toISOString() ?? null, iso, text);
  });

  it('refuses other text and moments not in the future', () => {
    for (const text of [
      '',
      '0d',
      '30',
      '30m',
      '1y',
      '-1d',
      'tomorrow',
      '2027-02-30',
      '2027-13-01',
      '2026-06-01T12:00:00Z',
      '2020-01-01',
      '01/02/2027',
    ]) {
      assert.throws(
        () => parseExpiry(text, NOW),
        (err) => isBargeError(err, 'INVALID_ARGUMENT'),
        text,
      );
    }
  });
});
