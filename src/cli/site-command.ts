import { BargeError } from '../error/index.js';
import type { RunReport, RuntimePreference, SiteReport } from '../site/index.js';
import { type CliIo, parse } from './cli-context.js';

const USAGE = [
  'barge site check [--json] [--root DIR]',
  'barge site run <image-dir> [--runtime auto|apptainer|bwrap] [--json] [--dry-run] [-- command...]',
].join('\n       ');

const LABEL = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', na: 'n/a ' } as const;

/** `barge site check|run`: the worker node against the container baseline; a command in an image. */
export async function siteCommand(argv: string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'check') return check(rest, io);
  if (verb === 'run') return run(rest, io);
  throw new BargeError('INVALID_ARGUMENT', `unknown site command '${verb ?? ''}'`, {
    hint: `usage: ${USAGE}`,
  });
}

/** Exit 0 when the node is in one of the baseline's working cases, 3 when it is in neither. */
async function check(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    { json: { type: 'boolean' }, root: { type: 'string' } },
    { min: 0, max: 0, usage: USAGE },
  );
  const { capturedHost, checkSite, liveHost } = await import('../site/index.js');
  let host: ReturnType<typeof liveHost>;
  try {
    host = values.root ? capturedHost(values.root) : liveHost();
  } catch (cause) {
    throw new BargeError('SOURCE_NOT_FOUND', `cannot read the captured node at ${values.root}`, {
      hint: "give a directory holding a node's proc/, sys/, etc/ (and its capture.json)",
      cause,
    });
  }
  const report = checkSite(host);
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else printReport(report, io);
  return report.verdict.case === 'unsupported' ? 3 : 0;
}

function printReport(report: SiteReport, io: CliIo): void {
  const { node, verdict } = report;
  io.out(
    `node     ${node.distribution ?? 'unknown distribution'}, Linux ${node.kernel ?? '?'}, uid ${node.uid}${report.root === '/' ? '' : ` (captured at ${report.root})`}`,
  );
  for (const f of report.findings) {
    io.out(`${LABEL[f.status]} ${f.id.padEnd(32)} ${f.seen}`);
    if (f.status === 'warn' || f.status === 'fail') {
      io.out(`       why: ${f.why}`);
      if (f.fix) io.out(`       fix: ${f.fix}`);
    }
  }
  io.out(`verdict  ${verdict.case}: ${verdict.summary}`);
  io.out(`runtime  barge site run would use ${verdict.runtime ?? 'nothing (no runtime can run here)'}`);
}

function describeRun(r: RunReport): string {
  const map = r.uidMap ? `uid_map ${r.uidMap}` : 'uid_map unreadable in the image';
  return `${r.runtime} (${r.why}), mode ${r.mode} (${map}), ${r.cvmfsBound ? `${r.cvmfsBound} bound in` : 'no /cvmfs to bind'}`;
}

/** Runs the command in the image; its exit status is ours. */
async function run(argv: string[], io: CliIo): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const { values, positionals } = parse(
    own,
    { runtime: { type: 'string' }, json: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
    { min: 1, max: dash < 0 ? Number.POSITIVE_INFINITY : 1, usage: USAGE },
  );
  const prefer = (values.runtime ?? 'auto') as RuntimePreference;
  if (!['auto', 'apptainer', 'bwrap'].includes(prefer)) {
    throw new BargeError('INVALID_ARGUMENT', `unknown runtime '${prefer}'`, {
      hint: 'use --runtime auto, apptainer or bwrap',
    });
  }
  const command = dash < 0 ? positionals.slice(1) : argv.slice(dash + 1);
  const { siteRun } = await import('../site/index.js');
  const dryRun = values['dry-run'] ?? false;
  return siteRun({
    image: positionals[0] as string,
    command,
    prefer,
    dryRun,
    onReport: (r) => {
      const text = values.json ? JSON.stringify(r) : `barge site run: ${describeRun(r)}`;
      if (dryRun) {
        io.out(text);
        if (!values.json) io.out(r.argv.join(' '));
      } else io.err(text);
    },
  });
}
