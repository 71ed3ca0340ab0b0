import { pull } from '../client/index.js';
import { fsck, repositoryInfo } from '../repository/index.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';
import { withReader } from './open-reader.js';

const common = {
  data: { type: 'string' },
  key: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

/** `barge info <source>`: revision, root hash, times, tags, catalogs, objects. */
export async function infoCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, common, {
    min: 1,
    max: 1,
    usage: 'barge info <fqrn|url|dir> [--key pub] [--json]',
  });
  return withReader(
    positionals[0] as string,
    { data: dataDir(values.data), key: values.key },
    async (reader) => {
      const info = await repositoryInfo(reader);
      if (values.json) {
        io.out(JSON.stringify(info, null, 2));
        return 0;
      }
      const c = info.counters;
      io.out(`repository   ${info.fqrn}`);
      io.out(`revision     ${info.revision}`);
      io.out(`root catalog ${info.rootHash}`);
      io.out(`published    ${info.published}`);
      io.out(`whitelist    valid until ${info.whitelistExpires ?? 'unknown'}`);
      io.out(
        `entries      ${c.regular} files, ${c.dir} directories, ${c.symlink} symlinks, ${c.special} special`,
      );
      io.out(
        `content      ${formatBytes(info.logicalBytes)} in ${info.objects} objects (${info.catalogs.length} catalogs)`,
      );
      for (const cat of info.catalogs) {
        io.out(`  catalog ${cat.mountpoint}  ${cat.hash}  ${formatBytes(cat.size)}  ${cat.entries} entries`);
      }
      io.out(`tags         ${info.tags.map((t) => `${t.name}@${t.revision}`).join(' ') || '(none)'}`);
      return 0;
    },
  );
}

/** `barge pull <source> <dir> [--path /sub] --key <pub>`. */
export async function pullCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...common, path: { type: 'string' } },
    { min: 2, max: 2, usage: 'barge pull <fqrn|url|dir> <dest> [--path /sub] --key <pub>' },
  );
  const started = Date.now();
  return withReader(
    positionals[0] as string,
    { data: dataDir(values.data), key: values.key },
    async (reader) => {
      const p = values.path === undefined || values.path === '/' ? '' : values.path.replace(/\/+$/, '');
      const stats = await pull(reader, positionals[1] as string, { path: p });
      const seconds = (Date.now() - started) / 1000;
      if (values.json) io.out(JSON.stringify({ ...stats, seconds }));
      else {
        io.out(
          `pulled ${stats.entries} entries (${stats.files} files, ${formatBytes(stats.bytes)}) of revision ${reader.manifest.revision} in ${seconds.toFixed(2)} s`,
        );
        for (const s of stats.skipped) io.err(`skipped ${s}: device nodes need root`);
      }
      return 0;
    },
  );
}

/** `barge fsck <fqrn|source>`: every reachable object exists and matches its hash (exit 3 if not). */
export async function fsckCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, common, {
    min: 1,
    max: 1,
    usage: 'barge fsck <fqrn|url|dir> [--key pub] [--json]',
  });
  return withReader(
    positionals[0] as string,
    { data: dataDir(values.data), key: values.key },
    async (reader) => {
      const report = await fsck(reader);
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else {
        const names = report.revisions.map((r) => r.name).join(', ');
        io.out(
          `checked ${report.revisions.length} revisions (${names}): ${report.catalogs} catalogs, ${report.objects} objects`,
        );
        for (const p of report.problems) io.out(`${p.problem.toUpperCase()} ${p.key}: ${p.detail}`);
        io.out(report.problems.length === 0 ? 'ok' : `${report.problems.length} problems`);
      }
      return report.problems.length === 0 ? 0 : 3;
    },
  );
}

/** `barge tags <fqrn|source>`: the history database. */
export async function tagsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { data: { type: 'string' }, key: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage: 'barge tags <fqrn|url|dir> [--key pub] [--json]' },
  );
  return withReader(
    positionals[0] as string,
    { data: dataDir(values.data), key: values.key },
    async (reader) => {
      const history = await reader.history();
      const tags = history?.tags() ?? [];
      history?.close();
      tags.sort((a, b) => a.revision - b.revision || (a.name < b.name ? -1 : 1));
      if (values.json) io.out(JSON.stringify(tags));
      else {
        io.out('NAME              REVISION  TIMESTAMP             DESCRIPTION');
        for (const t of tags) {
          const when = `${new Date(t.timestamp * 1000).toISOString().slice(0, 19)}Z`;
          io.out(`${t.name.padEnd(17)} ${String(t.revision).padStart(8)}  ${when}  ${t.description}`);
        }
      }
      return 0;
    },
  );
}
