import { unchangedSince } from '../publish/unchanged-tree.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

/** `barge init <fqrn>`: keys, certificate, whitelist, first revision; `--s3-*` keeps the files in a bucket. */
export async function initCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      'whitelist-days': { type: 'string' },
      'hash-algorithm': { type: 'string' },
      ttl: { type: 'string' },
      'no-chunking': { type: 'boolean' },
      's3-endpoint': { type: 'string' },
      's3-bucket': { type: 'string' },
      's3-prefix': { type: 'string' },
      's3-region': { type: 'string' },
      's3-credentials-file': { type: 'string' },
    },
    {
      min: 1,
      max: 1,
      usage:
        'barge init <fqrn> [--whitelist-days N] [--hash-algorithm sha1|shake128|rmd160] [--ttl S] ' +
        '[--s3-endpoint URL --s3-bucket B [--s3-prefix P] [--s3-region R] [--s3-credentials-file F]]',
    },
  );
  const fqrn = positionals[0] as string;
  const { initRepository } = await import('../publish/index.js');
  const { parseStorageConfig, storageLocation } = await import('../storage/index.js');
  const s3 = values['s3-endpoint'] !== undefined || values['s3-bucket'] !== undefined;
  // Credentials stay out of repository.json: BARGE_S3_ACCESS_KEY and BARGE_S3_SECRET_KEY, or the file.
  const storage = s3
    ? parseStorageConfig(
        {
          type: 's3',
          endpoint: values['s3-endpoint'],
          bucket: values['s3-bucket'],
          prefix: values['s3-prefix'],
          region: values['s3-region'],
          credentialsFile: values['s3-credentials-file'],
        },
        'barge init --s3-*',
      )
    : undefined;
  const result = await initRepository(dataDir(values.data), fqrn, {
    ...(storage ? { storage } : {}),
    ...(values['whitelist-days'] ? { whitelistDays: Number(values['whitelist-days']) } : {}),
    ...(values['hash-algorithm'] ? { hashAlgorithm: values['hash-algorithm'] as 'sha1' } : {}),
    ...(values.ttl ? { ttl: Number(values.ttl) } : {}),
    ...(values['no-chunking'] ? { chunkSizes: null } : {}),
  });
  io.out(`created ${fqrn} at revision ${result.revision}`);
  io.out(`  served files: ${storageLocation(result.paths, storage)}`);
  io.out(`  public key:   ${result.paths.keys}/${fqrn}.pub   (clients: CVMFS_PUBLIC_KEY)`);
  return 0;
}

/** `barge resign <fqrn>`: renews the whitelist. */
export async function resignCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { data: { type: 'string' }, days: { type: 'string' } },
    {
      min: 1,
      max: 1,
      usage: 'barge resign <fqrn> [--days N]',
    },
  );
  const { resignWhitelist } = await import('../publish/index.js');
  const expires = await resignWhitelist(
    dataDir(values.data),
    positionals[0] as string,
    values.days ? Number(values.days) : undefined,
  );
  io.out(`whitelist of ${positionals[0]} re-signed, valid until ${expires.toISOString()}`);
  return 0;
}

/** `barge publish <fqrn> <dir> [--at /sub/path]`: one new revision with the tree. */
export async function publishCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { data: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } },
    {
      min: 2,
      max: 2,
      usage: 'barge publish <fqrn> <dir> [--at /sub/path]',
    },
  );
  const at = values.at === undefined || values.at === '/' ? '' : values.at.replace(/\/+$/, '');
  const started = Date.now();
  const same = unchangedSince(dataDir(values.data), positionals[0] as string, positionals[1] as string, at);
  if (same) {
    const seconds = (Date.now() - started) / 1000;
    const directory = { entries: same.entries, filesIngested: 0, filesUnchanged: same.entries, removed: 0 };
    if (values.json)
      io.out(
        JSON.stringify({
          published: false,
          revision: same.revision,
          objectsWritten: 0,
          bytesWritten: 0,
          catalogsWritten: 0,
          directory,
          seconds,
        }),
      );
    else io.out(`nothing changed: ${positionals[0]} stays at revision ${same.revision}`);
    return 0;
  }
  // The full publisher loads only when something may have changed (it costs ~150 ms to load).
  const { Publisher } = await import('../publish/index.js');
  const publisher = await Publisher.open(dataDir(values.data), positionals[0] as string, 'publish');
  try {
    const r = await publisher.publishDirectory(positionals[1] as string, at);
    const seconds = (Date.now() - started) / 1000;
    if (values.json) io.out(JSON.stringify({ ...r, seconds }));
    else if (!r.published) io.out(`nothing changed: ${positionals[0]} stays at revision ${r.revision}`);
    else {
      const d = r.directory;
      io.out(
        `published revision ${r.revision} of ${positionals[0]} in ${seconds.toFixed(2)} s: ${d?.entries ?? 0} entries, ` +
          `${d?.filesIngested ?? 0} files read, ${d?.filesUnchanged ?? 0} unchanged, ${d?.removed ?? 0} removed; ` +
          `${r.objectsWritten} new objects (${formatBytes(r.bytesWritten)}), ${r.catalogsWritten} catalogs`,
      );
    }
    return 0;
  } finally {
    await publisher.close();
  }
}

/** `barge tag <fqrn> <name> [-m message] [--remove]`. */
export async function tagCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { data: { type: 'string' }, message: { type: 'string', short: 'm' }, remove: { type: 'boolean' } },
    { min: 2, max: 2, usage: 'barge tag <fqrn> <name> [-m message] [--remove]' },
  );
  const [fqrn, name] = positionals as [string, string];
  const { Publisher } = await import('../publish/index.js');
  const publisher = await Publisher.open(dataDir(values.data), fqrn, 'tag');
  try {
    if (values.remove) {
      await publisher.untag(name);
      io.out(`removed tag ${name}`);
    } else {
      await publisher.tag(name, values.message ?? '');
      io.out(`tagged revision ${publisher.manifest.revision} of ${fqrn} as ${name}`);
    }
    return 0;
  } finally {
    await publisher.close();
  }
}
