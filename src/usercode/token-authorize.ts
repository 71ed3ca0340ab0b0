import { BargeError } from '../error/index.js';
import type { TokenInfo, TokenScope } from './token-store.js';

/** The group of an admin token that covers every group (and global work such as managing tokens). */
export const ALL_GROUPS = '*';

/** A group name: also a path component (`/user/<group>/…`), so it never starts with a dot. */
const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** Whether `name` is a valid group name (letters, digits, `.`, `_`, `-`; up to 64; alphanumeric first). */
export function isGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

/** Checks a group name (see isGroupName); INVALID_ARGUMENT otherwise. */
export function validateGroup(name: string): string {
  if (!isGroupName(name)) {
    throw new BargeError('INVALID_ARGUMENT', `'${name}' is not a valid group name`, {
      hint: 'use up to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    });
  }
  return name;
}

/** What a request wants to do: publish into or administer a group, optionally in one repository. */
export interface AccessRequest {
  /** The group acted on; omitted for global work (managing tokens), which only `*` tokens cover. */
  group?: string;
  need: TokenScope;
  /** The repository acted on; tokens restricted to a repository need it named and equal. */
  repository?: string;
}

/**
 * Whether the (already verified) token may do `request`; FORBIDDEN (403) if not. The rules:
 * - an admin token may do anything a publish token may, and manage pins and tokens;
 * - a token covers its own group; an admin token of group `*` covers every group and the work
 *   of no group (a publish token never has group `*`, so it publishes only into its own group);
 * - a token created for a repository covers only requests that name that repository.
 * A group that is not a valid name is INVALID_ARGUMENT, so a handler passing raw URL text cannot
 * ask for `*` and match an admin's wildcard by accident.
 */
export function authorize(info: TokenInfo, request: AccessRequest): void {
  const forbidden = (why: string) =>
    new BargeError('FORBIDDEN', `token ${info.id} ${why}`, {
      hint: 'use a token issued for this group and repository, or ask an administrator',
    });
  if (request.group !== undefined) validateGroup(request.group);
  if (request.need === 'admin' && info.scope !== 'admin') {
    throw forbidden('is a publish token; this needs an admin token');
  }
  if (info.group !== ALL_GROUPS && info.group !== request.group) {
    throw forbidden(
      request.group === undefined
        ? `belongs to group '${info.group}'; this needs an admin token for all groups`
        : `belongs to group '${info.group}', not '${request.group}'`,
    );
  }
  if (info.repository !== null && info.repository !== request.repository) {
    throw forbidden(`is limited to repository ${info.repository}`);
  }
}
