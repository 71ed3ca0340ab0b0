import { BargeError } from '../error/index.js';
import { repositoryPaths } from '../repository/index.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

const USAGE =
  'barge gc <fqrn> [--dry-run] [--keep-revisions N] [--keep-days D] [--json] | barge gc <fqrn> --rebuild-ledger' +
  ' | barge gc <replica-fqrn> [--dry-run] [--keep-snapshots K] [--json]';

/**
 * `barge gc <fqrn>`: retention (idle uploads and image roots unnamed past their grace go in one
 * revision), then deletes exactly what no kept revision reaches; `--dry-run` reports the same
 * without changing anything.
 */
export async function gcCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'keep-revisions': { type: 'string' },
      'keep-days': { type: 'string' },
      'rebuild-ledger': { type: 'boolean' },
      'keep-snapshots': { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 1, max: 1, usage: USAGE },
  );
  const dir = dataDir(values.data);
  const fqrn = positionals[0] as string;
  const replica = await import('../replica/index.js');
  if (replica.isReplica(repositoryPaths(dir, fqrn).state)) return replicaGc(dir, fqrn, values, io);
  if (values['keep-snapshots'] !== undefined) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `--keep-snapshots is for a stratum-1 replica; ${fqrn} is not one`,
      {
        hint: 'a stratum 0 keeps revisions by --keep-revisions and --keep-days',
      },
    );
  }
  if (values['rebuild-ledger']) {
    const { rebuildLedger } = await import('../gc/rebuild-ledger.js');
    const r = await rebuildLedger({ dataDir: dir, fqrn });
    if (values.json) io.out(JSON.stringify(r));
    else
      io.out(
        `rebuilt the ledger of ${fqrn}: ${r.revisions} revision(s), ${r.catalogs} catalogs, ${r.objects} objects, ` +
          `${r.orphans} unreferenced object(s) left for the next gc, in ${r.seconds.toFixed(2)} s`,
      );
    return 0;
  }
  const { collectGarbage } = await import('../gc/gc.js');
  const retention: { revisions?: number; days?: number } = {};
  if (values['keep-revisions'] !== undefined) retention.revisions = Number(values['keep-revisions']);
  if (values['keep-days'] !== undefined) retention.days = Number(values['keep-days']);
  const report = await collectGarbage({
    dataDir: dir,
    fqrn,
    dryRun: values['dry-run'] ?? false,
    retention,
  });
  if (values.json) {
    io.out(JSON.stringify(report));
    return 0;
  }
  const would = report.dryRun ? 'would remove' : 'removed';
  io.out(
    `${fqrn}: ${would} ${report.revisionsDropped.length} revision(s), ${report.catalogsDeleted} catalog(s), ` +
      `${report.objectsDeleted} object(s), ${formatBytes(report.bytesFreed)}; expired ${report.uploadsExpired.length} upload(s) ` +
      `in ${report.seconds.toFixed(2)} s`,
  );
  if (report.imageRootsRemoved.length > 0)
    io.out(`  ${would} ${report.imageRootsRemoved.length} image root(s) nothing named for the grace`);
  for (const root of report.imageRootsRemoved) io.out(`    ${root}`);
  for (const k of report.kept) io.out(`  kept revision ${k.revision}: ${k.why.join(', ')}`);
  for (const r of report.imageRootsKept)
    io.out(`  kept image root ${r.root}: unnamed for ${r.days.toFixed(1)} day(s), within the grace`);
  for (const cid of report.pinnedKept) io.out(`  kept upload ${cid}: pinned`);
  if (report.resumed > 0) io.out(`  finished ${report.resumed} deletion(s) a previous gc left`);
  if (report.orphansDeleted > 0)
    io.out(`  of those, ${report.orphansDeleted} object(s) written by writers that died before publishing`);
  return 0;
}

/**
 * `barge gc <fqrn>` on a stratum-1 replica: no retention of its own, it follows the source (what
 * the source's tags and reflog still name) plus its last K served HEADs.
 */
async function replicaGc(
  dir: string,
  fqrn: string,
  values: { 'dry-run'?: boolean; 'keep-snapshots'?: string; json?: boolean } & Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  for (const flag of ['keep-revisions', 'keep-days', 'rebuild-ledger']) {
    if (values[flag] === undefined) continue;
    throw new BargeError(
      'INVALID_ARGUMENT',
      `--${flag} does not apply to ${fqrn}: it is a stratum-1 replica`,
      {
        hint: 'a replica keeps what its source keeps; set retention at the source, or --keep-snapshots K here',
      },
    );
  }
  const keep = values['keep-snapshots'];
  const keepSnapshots = keep === undefined ? undefined : Number(keep);
  if (keepSnapshots !== undefined && !(Number.isSafeInteger(keepSnapshots) && keepSnapshots >= 0)) {
    throw new BargeError('INVALID_ARGUMENT', `--keep-snapshots must be a whole number, not '${keep}'`, {
      hint: `usage: ${USAGE}`,
    });
  }
  const { collectReplicaGarbage } = await import('../replica/index.js');
  const report = await collectReplicaGarbage({
    dataDir: dir,
    fqrn,
    dryRun: values['dry-run'] ?? false,
    ...(keepSnapshots === undefined ? {} : { keepSnapshots }),
  });
  if (values.json) {
    io.out(JSON.stringify(report));
    return 0;
  }
  const would = report.dryRun ? 'would remove' : 'removed';
  io.out(
    `${fqrn} (replica): ${would} ${report.catalogsDeleted} catalog(s), ${report.objectsDeleted} object(s), ` +
      `${formatBytes(report.bytesFreed)} in ${report.seconds.toFixed(2)} s`,
  );
  for (const r of report.rootsKept)
    io.out(
      `  kept root ${r.hash}${r.revision === undefined ? '' : ` (revision ${r.revision})`}: ${r.why.join(', ')}`,
    );
  if (report.resumed > 0) io.out(`  finished ${report.resumed} deletion(s) a previous gc left`);
  return 0;
}
