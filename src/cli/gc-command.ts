import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

const USAGE =
  'barge gc <fqrn> [--dry-run] [--keep-revisions N] [--keep-days D] [--json] | barge gc <fqrn> --rebuild-ledger';

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
      json: { type: 'boolean' },
    },
    { min: 1, max: 1, usage: USAGE },
  );
  const dir = dataDir(values.data);
  const fqrn = positionals[0] as string;
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
  return 0;
}
