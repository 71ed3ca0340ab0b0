/** A host name without the brackets of an IPv6 literal. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/**
 * Whether a `no_proxy` list exempts a host and port: entries `*`, a name or a `.domain` suffix
 * (with an optional `:port`), `[v6]:port` or a bare IPv6 address, comma or space separated, as
 * curl and Go read it. Callers decide which proxy variable applies; this is only the exemption.
 */
export function noProxyExempts(list: string, host: string, port: string): boolean {
  return list
    .toLowerCase()
    .split(/[\s,]+/)
    .some((entry) => noProxyMatches(entry, host, port));
}

function noProxyMatches(entry: string, host: string, port: string): boolean {
  if (entry === '') return false;
  if (entry === '*') return true;
  // `[v6]:port`, a bare v6 address (several colons, no port), or `name[:port]`.
  const match =
    /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ??
    (entry.indexOf(':') !== entry.lastIndexOf(':') ? [entry, entry] : /^([^:]*)(?::(\d+))?$/.exec(entry));
  if (!match) return false;
  const name = (match[1] ?? '').replace(/^\*?\./, '');
  if (match[2] !== undefined && match[2] !== port) return false;
  return host === name || host.endsWith(`.${name}`);
}
