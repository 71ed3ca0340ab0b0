import { readFileSync } from 'node:fs';
import { BargeError } from '../error/index.js';
import type { ReplicaGcReport, SnapshotResult } from '../replica/index.js';
import { type CliIo, dataDir, formatBytes, parse } from './cli-context.js';

const USAGE =
  'barge replicate <source-url> <fqrn> --key <pub>[:<pub>...] [--loop SECONDS] [--parallel N] [--gc [--keep-snapshots K]] [--data DIR]';

/**
 * `barge replicate <source-url> <fqrn> --key <pub>`: a stratum-1 snapshot of any CVMFS
 * repository into `<data>/repos/<fqrn>`, served by `barge serve` as it is. With `--loop S` it
 * snapshots again every S seconds (a failed round is reported, the next one tries again) until
 * SIGINT/SIGTERM. With `--gc`, each successful snapshot is followed by the replica's gc, which
 * deletes what the source no longer keeps.
 */
export async function replicateCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      key: { type: 'string', multiple: true },
      loop: { type: 'string' },
      parallel: { type: 'string' },
      gc: { type: 'boolean' },
      'keep-snapshots': { type: 'string' },
    },
    { min: 2, max: 2, usage: USAGE },
  );
  const [source, fqrn] = positionals as [string, string];
  const keys = (values.key ?? []).flatMap((k) => k.split(':')).filter(Boolean);
  if (keys.length === 0) {
    throw new BargeError('KEY_NOT_FOUND', `the master public key of ${fqrn} is needed to verify the source`, {
      hint: 'pass --key <fqrn>.pub (what clients use as CVMFS_PUBLIC_KEY)',
    });
  }
  const publicKeysPem = keys.map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (cause) {
      throw new BargeError('KEY_NOT_FOUND', `cannot read the public key ${file}`, {
        cause,
        hint: 'check the --key path',
      });
    }
  });
  const parallel = positiveInt(values.parallel, '--parallel') ?? 16;
  const loop = positiveInt(values.loop, '--loop');
  const keep = values['keep-snapshots'];
  const keepSnapshots = keep === undefined ? 2 : Number(keep);
  if (!Number.isSafeInteger(keepSnapshots) || keepSnapshots < 0 || (keep !== undefined && !values.gc)) {
    throw new BargeError('INVALID_ARGUMENT', `--keep-snapshots takes a whole number and goes with --gc`, {
      hint: `usage: ${USAGE}`,
    });
  }
  const { collectReplicaGarbage, replicate } = await import('../replica/index.js');
  const dir = dataDir(values.data);
  const once = async () => {
    report(await replicate({ source, fqrn, publicKeysPem, dataDir: dir, parallel, log: io.out }), io);
    // Only after a snapshot that succeeded: a failed one leaves the ledger as it was.
    if (values.gc) reportGc(await collectReplicaGarbage({ dataDir: dir, fqrn, keepSnapshots }), io);
  };
  if (loop === undefined) {
    await once();
    return 0;
  }
  let stopped = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        // One failed round (the source down, a corrupt object) leaves the last snapshot served.
        const e = err as BargeError;
        io.err(`barge replicate: ${e.code ?? 'ERROR'}: ${e.message}; next attempt in ${loop} s`);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, loop * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

function report(r: SnapshotResult, io: CliIo): void {
  const s = r.stats;
  const what = r.changed
    ? `replicated ${r.fqrn} revision ${r.revision}${r.previousRevision === undefined ? '' : ` (was ${r.previousRevision})`}`
    : `${r.fqrn} is current at revision ${r.revision}`;
  const held = new Set(r.roots.filter((x) => x.held).map((x) => x.hash)).size;
  io.out(
    `${what} in ${r.seconds.toFixed(2)} s: ${s.objectsFetched} objects fetched (${formatBytes(s.bytesFetched)}), ` +
      `${s.objectsPresent} already present; catalogs ${s.catalogsFetched} fetched, ${s.catalogsSkipped} complete; ` +
      `${held} root catalog(s) held`,
  );
}

function reportGc(r: ReplicaGcReport, io: CliIo): void {
  io.out(
    `gc of ${r.fqrn}: removed ${r.catalogsDeleted} catalog(s), ${r.objectsDeleted} object(s), ` +
      `${formatBytes(r.bytesFreed)}; kept ${r.rootsKept.length} root catalog(s)` +
      `${r.resumed > 0 ? `; finished ${r.resumed} deletion(s) a previous gc left` : ''}`,
  );
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new BargeError('INVALID_ARGUMENT', `${flag} must be a positive integer, not '${text}'`, {
      hint: `usage: ${USAGE}`,
    });
  }
  return n;
}
