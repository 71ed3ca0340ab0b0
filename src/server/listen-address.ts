import { BargeError } from '../error/index.js';

/** Where to listen: a host (IPv4, IPv6 without brackets, or a name) and a TCP port (0: any free). */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `[v6]:port`, `:port` (all interfaces) or a bare `port`. A bare or empty
 * host means 0.0.0.0; give `[::]:port` for IPv6 too.
 */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new BargeError('INVALID_ARGUMENT', `cannot listen on '${text}': expected host:port`, {
      hint: "give e.g. '127.0.0.1:8080', '[::1]:8080' or ':8080' (all interfaces)",
    });
  }
  return { host: match[1] || match[2] || '0.0.0.0', port };
}
