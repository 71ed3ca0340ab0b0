import { BargeError } from '../error/index.js';
import type { CliIo } from './cli-context.js';

type Command = (argv: string[], io: CliIo) => Promise<number>;

/**
 * Commands load on use: `barge publish` should not pay for the HTTP server or the registry client
 * (the CLI start is the floor under every unchanged republish).
 */
const COMMANDS: Record<string, [() => Promise<Command>, string]> = {
  init: [
    async () => (await import('./write-commands.js')).initCommand,
    'create a repository: keys, certificate, whitelist, first revision',
  ],
  resign: [async () => (await import('./write-commands.js')).resignCommand, 'renew the whitelist signature'],
  publish: [
    async () => (await import('./write-commands.js')).publishCommand,
    'publish a directory as one new revision (--at /sub/path)',
  ],
  tag: [
    async () => (await import('./write-commands.js')).tagCommand,
    'name the current revision (-m message, --remove)',
  ],
  tags: [async () => (await import('./read-commands.js')).tagsCommand, 'list named revisions'],
  info: [
    async () => (await import('./read-commands.js')).infoCommand,
    'revision, root hash, times, tags, catalogs, objects of any repository',
  ],
  pull: [
    async () => (await import('./read-commands.js')).pullCommand,
    'materialise a tree or subtree of any repository, verified',
  ],
  fsck: [
    async () => (await import('./read-commands.js')).fsckCommand,
    'check every object reachable from the current and tagged revisions',
  ],
  images: [
    async () => (await import('./images-command.js')).imagesCommand,
    'container images: add, rm, ls, sync <DUCC wishlist>',
  ],
  token: [
    async () => (await import('./token-command.js')).tokenCommand,
    'bearer tokens of the user code API: create, ls, revoke',
  ],
  uploads: [
    async () => (await import('./uploads-command.js')).uploadsCommand,
    'user code: enable, ls, pin, unpin, expire',
  ],
  gc: [
    async () => (await import('./gc-command.js')).gcCommand,
    'retention, then delete what no kept revision reaches (--dry-run, --rebuild-ledger)',
  ],
  replicate: [
    async () => (await import('./replicate-command.js')).replicateCommand,
    'stratum-1 snapshot of any CVMFS repository, verified and incremental (--loop S)',
  ],
  serve: [
    async () => (await import('./serve-command.js')).serveCommand,
    'serve every repository over HTTP at /cvmfs/<fqrn>/',
  ],
  'nginx-conf': [
    async () => (await import('./nginx-command.js')).nginxConfCommand,
    'print the nginx configuration serving this data directory beside barge serve',
  ],
  site: [
    async () => (await import('./site-command.js')).siteCommand,
    'worker nodes: check against the container baseline; run a command in an image',
  ],
};

const HELP = [
  'barge: publish container images and user code into CernVM-FS repositories',
  '',
  'usage: barge <command> [options]   (data directory: --data DIR, $BARGE_DATA, ./barge-data)',
  '',
  ...Object.entries(COMMANDS).map(([name, [, what]]) => `  ${name.padEnd(10)} ${what}`),
].join('\n');

/** Runs one CLI invocation; returns the exit status. Errors print their code, message and hint. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.err(`barge: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await entry[0]())(rest, io);
  } catch (err) {
    if (err instanceof BargeError) {
      io.err(`barge ${name}: ${err.code}: ${err.message}`);
      if (err.hint) io.err(`  hint: ${err.hint}`);
      return err.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
    io.err(`barge ${name}: internal error: ${(err as Error).stack ?? err}`);
    return 70;
  }
}
