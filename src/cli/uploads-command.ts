import { BargeError } from '../error/index.js';
import { DEFAULT_UPLOAD_SETTINGS, readRepositoryConfig, writeRepositoryConfig } from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';
import { CommitQueue } from '../usercode/commit-queue.js';
import { parseUploadId } from '../usercode/upload-id.js';
import { expireUploads } from '../usercode/upload-service.js';
import { UploadsDb } from '../usercode/uploads-db.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

const USAGE = [
  'barge uploads enable <fqrn> [--prefix user] [--expiry-days 30]   take user code through the API',
  'barge uploads ls <fqrn> [--group G] [--json]                    uploads, last use, pins',
  'barge uploads pin|unpin <fqrn> <group>/<sha256>                  keep one forever (or not)',
  'barge uploads expire <fqrn> [--json]                             remove idle, unpinned uploads now',
].join('\n  ');

/** `barge uploads ...`: the user code a repository holds, from its ledger. */
export async function uploadsCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      data: { type: 'string' },
      prefix: { type: 'string' },
      'expiry-days': { type: 'string' },
      group: { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 1, max: 2, usage: USAGE },
  );
  const dir = dataDir(values.data);
  const fqrn = positionals[0] as string;
  const paths = repositoryPaths(dir, fqrn);
  const config = await readRepositoryConfig(paths.state, fqrn);
  if (sub === 'enable') {
    const days = values['expiry-days'] === undefined ? undefined : Number(values['expiry-days']);
    const uploads = {
      prefix: values.prefix ?? config.uploads?.prefix ?? DEFAULT_UPLOAD_SETTINGS.prefix,
      expiryDays: days ?? config.uploads?.expiryDays ?? DEFAULT_UPLOAD_SETTINGS.expiryDays,
    };
    // Validated by the parser on the next read: write, read back, and restore on failure.
    await writeRepositoryConfig(paths.state, { ...config, uploads });
    try {
      await readRepositoryConfig(paths.state, fqrn);
    } catch (err) {
      await writeRepositoryConfig(paths.state, config);
      throw err;
    }
    io.out(
      `${fqrn} takes uploads under /${uploads.prefix}/<group>/<sha256>, expiring after ${uploads.expiryDays} days idle`,
    );
    return 0;
  }
  if (!config.uploads) {
    throw new BargeError('INVALID_ARGUMENT', `${fqrn} takes no uploads`, {
      hint: `barge uploads enable ${fqrn}`,
    });
  }
  const db = new UploadsDb(paths.state);
  try {
    if (sub === 'ls') {
      const all = db.all().filter((u) => !values.group || u.group === values.group);
      if (values.json) io.out(JSON.stringify(all, null, 2));
      else {
        for (const u of all) {
          const last = new Date(u.lastUsedAt * 1000).toISOString().slice(0, 19);
          io.out(
            `${u.cid}  ${u.state}${u.pinned ? ' pinned' : ''}  ${u.files} files ${formatBytes(u.bytes)}  last used ${last}Z  r${u.revision}`,
          );
        }
        io.out(`${all.length} upload(s)`);
      }
      return 0;
    }
    if (sub === 'pin' || sub === 'unpin') {
      const id = parseUploadId(positionals[1]);
      if (!db.setPinned(id.cid, sub === 'pin')) {
        throw new BargeError('UPLOAD_NOT_FOUND', `${fqrn} holds no published upload ${id.cid}`);
      }
      io.out(`${id.cid} ${sub === 'pin' ? 'pinned' : 'unpinned'}`);
      return 0;
    }
    if (sub === 'expire') {
      const queue = new CommitQueue({ dataDir: dir, fqrn });
      const { removed, result } = await expireUploads(
        queue,
        db,
        config.uploads.expiryDays,
        Math.floor(Date.now() / 1000),
      );
      await queue.close();
      if (values.json)
        io.out(JSON.stringify({ removed: removed.map((u) => u.cid), revision: result?.revision }));
      else
        io.out(
          `removed ${removed.length} idle upload(s)${result ? ` in revision ${result.revision}` : ''}; their objects go at the next gc`,
        );
      return 0;
    }
  } finally {
    db.close();
  }
  throw new BargeError('INVALID_ARGUMENT', `unknown subcommand '${sub ?? ''}'`, { hint: `usage: ${USAGE}` });
}
