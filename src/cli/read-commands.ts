import { pull } from '../client/index.js';
import { fsck, repositoryInfo } from '../repository/index.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';
import { openReader } from './open-reader.js';

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
  const { reader, source } = await openReader(positionals[0] as string, {
    data: dataDir(values.data),
    ...(values.key ? { key: values.key } : {}),
  });
  try {
    const info = await repositoryInfo(reader);
    if (values.json) {
      io.out(JSON.stringify(info, null, 2));
      return 0;
    }
    io.out(`repository   ${info.fqrn}`);
    io.out(`revision     ${info.revision}`);
    io.out(`root catalog ${info.rootHash}`);
    io.out(`published    ${info.published}`);
    io.out(`whitelist    valid until ${info.whitelistExpires ?? 'unknown'}`);
    io.out(
      `entries      ${info.counters.regular} files, ${info.counters.dir} directories, ${info.counters.symlink} symlinks, ${info.counters.special} special`,
    );
    io.out(
      `content      ${formatBytes(info.logicalBytes)} in ${info.objects} objects (${info.catalogs.length} catalogs)`,
    );
    for (const c of info.catalogs)
      io.out(`  catalog ${c.mountpoint}  ${c.hash}  ${formatBytes(c.size)}  ${c.entries} entries`);
    io.out(`tags         ${info.tags.map((t) => `${t.name}@${t.revision}`).join(' ') || '(none)'}`);
    return 0;
  } finally {
    await reader.close();
    source.close();
  }
}

/** `barge pull <source> <dir> [--path /sub] --key <pub>`. */
export async function pullCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...common, path: { type: 'string' } },
    {
      min: 2,
      max: 2,
      usage: 'barge pull <fqrn|url|dir> <dest> [--path /sub] --key <pub>',
    },
  );
  const started = Date.now();
  const { reader, source } = await openReader(positionals[0] as string, {
    data: dataDir(values.data),
    ...(values.key ? { key: values.key } : {}),
  });
  try {
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
  } finally {
    await reader.close();
    source.close();
  }
}

/** `barge fsck <fqrn|source>`: every reachable object exists and matches its hash. */
export async function fsckCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, common, {
    min: 1,
    max: 1,
    usage: 'barge fsck <fqrn|url|dir> [--key pub] [--json]',
  });
  const { reader, source } = await openReader(positionals[0] as string, {
    data: dataDir(values.data),
    ...(values.key ? { key: values.key } : {}),
  });
  try {
    const report = await fsck(reader);
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else {
      io.out(
        `checked ${report.revisions.length} revisions (${report.revisions.map((r) => r.name).join(', ')}): ${report.catalogs} catalogs, ${report.objects} objects`,
      );
      for (const p of report.problems) io.out(`${p.problem.toUpperCase()} ${p.key}: ${p.detail}`);
      io.out(report.problems.length === 0 ? 'ok' : `${report.problems.length} problems`);
    }
    return report.problems.length === 0 ? 0 : 3;
  } finally {
    await reader.close();
    source.close();
  }
}
