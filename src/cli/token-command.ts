import { BargeError } from '../error/index.js';
import { parseExpiry } from '../usercode/token-expiry.js';
import { type CreatedToken, type TokenRecord, TokenStore } from '../usercode/token-store.js';
import { type CliIo, dataDir, parse } from './cli-context.js';

const USAGE = [
  'barge token create --group G [--scope publish|admin] [--expires 30d|12h|2w|<ISO date>|never] [--repo FQRN] [--note TEXT] [--json]',
  'barge token ls [--json]',
  'barge token revoke <id>',
].join('\n       ');

const options = {
  data: { type: 'string' },
  group: { type: 'string' },
  scope: { type: 'string' },
  expires: { type: 'string' },
  repo: { type: 'string' },
  note: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `barge token create|ls|revoke`: bearer tokens of the user code API, in `<data>/usercode/tokens.db`.
 * `create` prints the token alone on stdout (so `$(barge token create …)` captures it) and says
 * the rest on stderr; the token is shown this once. An admin token without --group gets `*`.
 */
export async function tokenCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create' && sub !== 'ls' && sub !== 'revoke') {
    throw new BargeError('INVALID_ARGUMENT', `unknown token subcommand '${sub ?? ''}'`, {
      hint: `usage: ${USAGE}`,
    });
  }
  const { values, positionals } = parse(rest, options, {
    min: sub === 'revoke' ? 1 : 0,
    max: sub === 'revoke' ? 1 : 0,
    usage: USAGE,
  });
  const store = new TokenStore(dataDir(values.data));
  try {
    if (sub === 'create') create(store, values, io);
    else if (sub === 'ls') list(store.list(), values.json === true, io);
    else {
      const id = positionals[0] as string;
      io.out(store.revoke(id) ? `revoked token ${id}` : `token ${id} was already revoked`);
    }
    return 0;
  } finally {
    store.close();
  }
}

function create(
  store: TokenStore,
  values: { group?: string; scope?: string; expires?: string; repo?: string; note?: string; json?: boolean },
  io: CliIo,
): void {
  const scope = values.scope ?? 'publish';
  if (scope !== 'publish' && scope !== 'admin') {
    throw new BargeError('INVALID_ARGUMENT', `'${scope}' is not a token scope`, {
      hint: 'use publish or admin',
    });
  }
  const group = values.group ?? (scope === 'admin' ? '*' : undefined);
  if (group === undefined) {
    throw new BargeError('INVALID_ARGUMENT', 'a publish token needs --group', { hint: `usage: ${USAGE}` });
  }
  const t = store.create({
    group,
    scope,
    expiresAt: parseExpiry(values.expires ?? 'never'),
    repository: values.repo ?? null,
    ...(values.note !== undefined ? { note: values.note } : {}),
  });
  if (values.json) {
    io.out(JSON.stringify({ ...t, note: values.note ?? '' }));
    return;
  }
  io.out(t.token);
  io.err(`created ${describe(t)}`);
  io.err('  the token is shown only now: store it, barge keeps only its hash');
}

/** `publish token 0123… for group cms, repository any, expires never`. */
function describe(t: CreatedToken | TokenRecord): string {
  return (
    `${t.scope} token ${t.id} for group ${t.group === '*' ? '* (all)' : t.group}, ` +
    `repository ${t.repository ?? 'any'}, expires ${when(t.expiresAt, 'never')}`
  );
}

function list(tokens: TokenRecord[], json: boolean, io: CliIo): void {
  if (json) {
    io.out(JSON.stringify(tokens, null, 2));
    return;
  }
  const header = ['ID', 'GROUP', 'SCOPE', 'REPOSITORY', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED', 'NOTE'];
  const rows = tokens.map((t) => [
    t.id,
    t.group,
    t.scope,
    t.repository ?? '-',
    when(t.createdAt, '-'),
    when(t.expiresAt, 'never'),
    when(t.lastUsedAt, 'never'),
    when(t.revokedAt, '-'),
    t.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [header, ...rows])
    io.out(
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
}

/** A time to the second in UTC (`2027-01-01 00:00:00Z`), or `none` for null. */
function when(d: Date | null, none: string): string {
  return d === null ? none : `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
