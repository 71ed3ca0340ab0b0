import { noProxyExempts, stripBrackets } from '../../repository/index.js';

/**
 * The HTTP proxy for `target` from the environment, as Go programs (docker, skopeo) read it:
 * `https_proxy`/`HTTPS_PROXY` for https:// URLs, `http_proxy` for http:// ones (lower case only:
 * upper-case HTTP_PROXY can be set by a request header under CGI, "httpoxy"), unless `no_proxy`
 * lists the host (`*`, a name, a `.domain` suffix, optional `:port`). Loopback hosts are never
 * proxied (Go's httpproxy rule), so a registry on localhost works behind a site proxy.
 */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const proxy = target.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY) : env.http_proxy;
  if (!proxy) return undefined;
  const host = stripBrackets(target.hostname).toLowerCase();
  if (isLoopback(host)) return undefined;
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return noProxyExempts(env.no_proxy ?? env.NO_PROXY ?? '', host, port) ? undefined : proxy;
}

/** True for `localhost`, 127.0.0.0/8 and ::1. */
export function isLoopback(hostname: string): boolean {
  const host = stripBrackets(hostname).toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127(?:\.\d{1,3}){3}$/.test(host) ||
    host === '::1'
  );
}

/** A host name without the brackets of an IPv6 literal. */
export { stripBrackets };
