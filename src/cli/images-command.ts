import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { BargeError } from '../error/index.js';
import {
  addImage,
  type FlattenStats,
  listImages,
  RegistryClient,
  readWishlist,
  removeImage,
  syncWishlist,
} from '../image/index.js';
import { Publisher } from '../publish/index.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

const USAGE = [
  'barge images add <image> [--repo FQRN] [--platform os/arch] [--as registry/repo:tag]',
  'barge images rm <registry/repo:tag> [--repo FQRN]',
  'barge images ls [--repo FQRN] [--json]',
  'barge images sync <wishlist.yaml> [--loop SECONDS] [--platform os/arch] [--json]',
].join('\n       ');

const options = {
  data: { type: 'string' },
  repo: { type: 'string' },
  platform: { type: 'string' },
  as: { type: 'string' },
  json: { type: 'boolean' },
  loop: { type: 'string' },
} as const;

/**
 * A progress line for long image work on a terminal (overwritten in place); nothing when stderr
 * is not a terminal, where the per-image result lines are the log.
 */
function layerProgress(): ((layer: number, layers: number, stats: FlattenStats) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (layer, layers, stats) => {
    process.stderr.write(
      `\r  layer ${layer}/${layers}: ${stats.files} files, ${formatBytes(stats.bytes)}   `,
    );
    if (layer === layers) process.stderr.write('\n');
  };
}

/** `barge images add|rm|ls|sync`: container images in DUCC's layout. */
export async function imagesCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, options, {
    min: sub === 'ls' ? 0 : 1,
    max: sub === 'ls' ? 0 : 1,
    usage: USAGE,
  });
  const data = dataDir(values.data);
  const client = new RegistryClient();
  try {
    switch (sub) {
      case 'add':
        return await withPublisher(data, values.repo, async (p) => {
          const progress = layerProgress();
          const r = await addImage(p, positionals[0] as string, {
            client,
            ...(progress ? { onLayer: progress } : {}),
            ...(values.platform ? { platform: values.platform } : {}),
            ...(values.as ? { as: values.as } : {}),
          });
          if (values.json) io.out(JSON.stringify(r));
          else if (r.status === 'unchanged') io.out(`${r.reference}: unchanged (revision ${r.revision})`);
          else {
            const how =
              r.image?.reused === 'present'
                ? 'already flattened'
                : r.image?.reused === 'base'
                  ? `reused ${r.image.baseLayers} base layers`
                  : 'flattened';
            io.out(
              `${r.reference}: published revision ${r.revision} in ${r.seconds.toFixed(2)} s (${how}) -> /cvmfs/${p.paths.fqrn}/${r.reference}`,
            );
          }
          return 0;
        });
      case 'rm':
        return await withPublisher(data, values.repo, async (p) => {
          const r = await removeImage(p, positionals[0] as string);
          io.out(
            `removed ${positionals[0]} (revision ${r.revision}); its flat root leaves the tree at a gc once nothing has named it for the grace (images.graceDays), its files at the gc after`,
          );
          return 0;
        });
      case 'ls':
        return await withPublisher(data, values.repo, async (p) => {
          const images = await listImages(p);
          if (values.json) io.out(JSON.stringify(images, null, 2));
          else {
            for (const i of images) {
              io.out(
                `${i.reference}  ${i.platform}  ${i.sourceDigest.slice(0, 19)}  ${i.files} files  ${formatBytes(i.bytes)}`,
              );
            }
          }
          return 0;
        });
      case 'sync':
        return await sync(positionals[0] as string, data, values, client, io);
      default:
        throw new BargeError('INVALID_ARGUMENT', `unknown images subcommand '${sub ?? ''}'`, {
          hint: `usage: ${USAGE}`,
        });
    }
  } finally {
    client.close();
  }
}

async function sync(
  file: string,
  data: string,
  values: {
    repo?: string | undefined;
    platform?: string | undefined;
    loop?: string | undefined;
    json?: boolean | undefined;
  },
  client: RegistryClient,
  io: CliIo,
): Promise<number> {
  const interval = values.loop ? Number(values.loop) : 0;
  const progress = layerProgress();
  for (;;) {
    const wishlist = await readWishlist(file);
    // The references a wishlist manages are keyed by its file: the same file, however named.
    const wishlistId = await realpath(file);
    const { StatsDb } = await import('../observe/stats-db.js');
    const outcomes = await withPublisher(data, values.repo ?? wishlist.cvmfs_repo, async (p) => {
      // Each outcome is kept for the dashboard's images page (last sync, errors).
      const stats = new StatsDb(p.paths.state);
      try {
        return await syncWishlist(p, wishlist, {
          client,
          wishlistId,
          ...(progress ? { onLayer: progress } : {}),
          ...(values.platform ? { platform: values.platform } : {}),
          onOutcome: (o) => {
            // The dashboard lists the images of the tree: a removed one has no row to update.
            if (o.status !== 'removed') stats.recordSync({ ...o, status: o.status });
            if (values.json) io.out(JSON.stringify(o));
            else
              io.out(
                o.status === 'failed'
                  ? `FAILED    ${o.reference}: ${o.error?.code}: ${o.error?.message}`
                  : `${o.status.padEnd(9)} ${o.reference} (${o.seconds.toFixed(1)} s)`,
              );
          },
        });
      } finally {
        stats.close();
      }
    });
    const count = (s: string) => outcomes.filter((o) => o.status === s).length;
    const summary = {
      published: count('published'),
      unchanged: count('unchanged'),
      removed: count('removed'),
      failed: count('failed'),
    };
    // With --json: one line per outcome, then this one.
    if (values.json) io.out(JSON.stringify({ sync: summary }));
    else
      io.out(
        `sync: ${summary.published} published, ${summary.unchanged} unchanged, ${summary.removed} removed, ${summary.failed} failed`,
      );
    const failed = count('failed') > 0 && !wishlist.ignoreErrors;
    if (!interval) return failed ? 1 : 0;
    await new Promise((r) => setTimeout(r, interval * 1000));
  }
}

/** Opens the named repository, or the only one in the data directory. */
async function withPublisher<T>(
  data: string,
  repo: string | undefined,
  use: (p: Publisher) => Promise<T>,
): Promise<T> {
  const fqrn = repo ?? (await onlyRepository(data));
  const publisher = await Publisher.open(data, fqrn, 'images');
  try {
    return await use(publisher);
  } finally {
    await publisher.close();
  }
}

async function onlyRepository(data: string): Promise<string> {
  const names = await readdir(path.join(data, 'repos')).catch(() => [] as string[]);
  if (names.length === 1) return names[0] as string;
  throw new BargeError(
    'INVALID_ARGUMENT',
    names.length === 0 ? `no repository in ${data}` : `${names.length} repositories in ${data}`,
    {
      hint: 'name one with --repo <fqrn>',
    },
  );
}
