/**
 * Errors. Every failure that reaches a user is a BargeError with a code from a closed union, a
 * message that says what was wrong, and a hint that says what to do. The CLI prints them; the
 * server maps codes to HTTP statuses in one table.
 */

export type { BargeErrorOptions, ErrorCode } from './barge-error.js';
export { BargeError, errnoCode, isBargeError } from './barge-error.js';
