/** One challenge of a WWW-Authenticate header: its scheme (lower case) and parameters. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 9110 §11.6.1), which may hold several challenges
 * (`Basic realm="x", Bearer realm="…",service="…",scope="…"`). Parameter names are lower-cased;
 * quoted values are unescaped. Token68 credentials (no `=`) are ignored: registries never use them.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < header.length && pattern.test(header[i] as string)) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  while (i < header.length) {
    skip(/[\s,]/);
    const start = i;
    const name = token();
    if (name === '') {
      i++;
      continue;
    }
    skip(/\s/);
    if (header[i] !== '=') {
      // A bare token starts a new challenge (a scheme).
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      continue;
    }
    i++;
    skip(/\s/);
    let value: string;
    if (header[i] === '"') {
      i++;
      value = '';
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\') i++;
        value += header[i] ?? '';
        i++;
      }
      i++;
    } else {
      // RFC 9110 wants a token here; some servers send URLs unquoted, so read up to the next comma.
      const from = i;
      while (i < header.length && !/[\s,]/.test(header[i] as string)) i++;
      value = header.slice(from, i);
    }
    if (current && i > start) current.params[name.toLowerCase()] = value;
  }
  return challenges;
}
