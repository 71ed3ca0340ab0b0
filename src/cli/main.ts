import { BargeError } from '../error/index.js';
import type { CliIo } from './cli-context.js';
import { imagesCommand } from './images-command.js';
import { fsckCommand, infoCommand, pullCommand } from './read-commands.js';
import { serveCommand } from './serve-command.js';
import { initCommand, publishCommand, resignCommand, tagCommand, tagsCommand } from './write-commands.js';

type Command = (argv: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, [Command, string]> = {
  init: [initCommand, 'create a repository: keys, certificate, whitelist, first revision'],
  resign: [resignCommand, 'renew the whitelist signature'],
  publish: [publishCommand, 'publish a directory as one new revision (--at /sub/path)'],
  tag: [tagCommand, 'name the current revision (-m message, --remove)'],
  tags: [tagsCommand, 'list named revisions'],
  info: [infoCommand, 'revision, root hash, times, tags, catalogs, objects of any repository'],
  pull: [pullCommand, 'materialise a tree or subtree of any repository, verified'],
  fsck: [fsckCommand, 'check every object reachable from the current and tagged revisions'],
  images: [imagesCommand, 'container images: add, rm, ls, sync <DUCC wishlist>'],
  serve: [serveCommand, 'serve every repository over HTTP at /cvmfs/<fqrn>/'],
};

const HELP = [
  'barge: publish container images and user code into CernVM-FS repositories',
  '',
  'usage: barge <command> [options]   (data directory: --data DIR, $BARGE_DATA, ./barge-data)',
  '',
  ...Object.entries(COMMANDS).map(([name, [, what]]) => `  ${name.padEnd(8)} ${what}`),
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
    return await entry[0](rest, io);
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
