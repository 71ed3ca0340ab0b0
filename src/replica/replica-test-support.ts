import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { pull } from '../client/index.js';
import { hashAlgorithm, hashBytes, parseObjectPath } from '../object/index.js';
import { initRepository, Publisher } from '../publish/index.js';
import { openSource, RepositoryReader } from '../repository/index.js';
import { type RequestLogEntry, type RunningServer, startServer } from '../server/index.js';
import { CONFORMANCE_TOOL } from '../testing/conformance.js';
import { diffTrees, snapshotTree } from '../testing/index.js';
import { BARGE_BIN } from '../testing/run-barge.js';

// Test tools of the replica tests (tests only): sources served over HTTP with a request log, a
// barge stratum 0 to publish into, tree equality through pull, and an object integrity scan.

/** A barge serve over a data directory, with every request it answered. */
export interface LoggedServer {
  url: string;
  requests: RequestLogEntry[];
  /** GETs answered 200 under data/ since `from` (an index into requests): keys and bytes. */
  objectGets(from?: number): { keys: string[]; bytes: number };
  close(): Promise<void>;
}

/** Serves `<dataDir>/repos/*` on a free loopback port (barge serve's routes), logging requests. */
export async function serveLogged(
  dataDir: string,
  options: { mutableMaxAge?: number } = {},
): Promise<LoggedServer> {
  const requests: RequestLogEntry[] = [];
  const server: RunningServer = await startServer({
    dataDir,
    listen: '127.0.0.1:0',
    onRequest: (e) => requests.push(e),
    ...options,
  });
  return {
    url: server.url,
    requests,
    objectGets(from = 0) {
      const hits = requests
        .slice(from)
        .filter((r) => r.method === 'GET' && r.status === 200 && /\/data\/[0-9a-f]{2}\//.test(r.path));
      return {
        keys: hits.map((r) => r.path.replace(/^.*?\/(data\/)/, '$1')),
        bytes: hits.reduce((n, r) => n + r.bytes, 0),
      };
    },
    close: () => server.close(),
  };
}

/** A data directory whose repos/<fqrn> is a link to a served directory (the read-only fixture). */
export async function linkServed(dataDir: string, fqrn: string, served: string): Promise<void> {
  await fsp.mkdir(path.join(dataDir, 'repos'), { recursive: true });
  await fsp.symlink(served, path.join(dataDir, 'repos', fqrn));
}

/** A barge stratum 0 for tests: init, then publish or tag as a writer would. */
export class BargeSource {
  readonly served: string;
  readonly pub: string;

  private constructor(
    readonly data: string,
    readonly fqrn: string,
    paths: { served: string; keys: string },
  ) {
    this.served = paths.served;
    this.pub = path.join(paths.keys, `${fqrn}.pub`);
  }

  static async create(data: string, fqrn: string): Promise<BargeSource> {
    const init = await initRepository(data, fqrn);
    return new BargeSource(data, fqrn, init.paths);
  }

  /** Publishes `dir` as the new tree of the whole repository; returns the revision. */
  async publish(dir: string): Promise<number> {
    const p = await Publisher.open(this.data, this.fqrn);
    try {
      return (await p.publishDirectory(dir)).revision;
    } finally {
      await p.close();
    }
  }

  /** Names the current revision. */
  async tag(name: string): Promise<void> {
    const p = await Publisher.open(this.data, this.fqrn);
    try {
      await p.tag(name, `tag ${name}`);
    } finally {
      await p.close();
    }
  }

  /** Every file under data/ (keys). */
  async objectKeys(): Promise<Set<string>> {
    return listObjects(this.served);
  }

  get publicKeyPem(): string {
    return readFileSync(this.pub, 'utf8');
  }
}

/** The keys of every file under `<served>/data/` (staging left out). */
export async function listObjects(served: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of await fsp.readdir(path.join(served, 'data'), { recursive: true })) {
    const key = `data/${name}`;
    if (parseObjectPath(key)) out.add(key);
  }
  return out;
}

/** Objects under `<served>/data/` whose bytes do not hash to their name. */
export async function corruptObjects(served: string): Promise<string[]> {
  const bad: string[] = [];
  for (const key of await listObjects(served)) {
    const { hash } = parseObjectPath(key) as { hash: string };
    const bytes = await fsp.readFile(path.join(served, key));
    if (hashBytes(bytes, hashAlgorithm(hash)) !== hash) bad.push(key);
  }
  return bad;
}

/**
 * Pulls the same revision (HEAD, or the root of `tag`) from two repositories with barge's client
 * and lists how the trees differ (owners, modes, mtimes, contents, xattrs); [] when equal.
 */
export async function diffPulled(
  a: string,
  b: string,
  options: { fqrn: string; publicKeyPem: string; out: string; tag?: string },
): Promise<string[]> {
  const trees: string[] = [];
  for (const [i, spec] of [a, b].entries()) {
    const source = await openSource(spec);
    const reader = await RepositoryReader.open(source, {
      publicKeysPem: [options.publicKeyPem],
      fqrn: options.fqrn,
    });
    try {
      let at = reader;
      if (options.tag) {
        const history = await reader.history();
        const tag = history?.getTag(options.tag);
        history?.close();
        if (!tag) throw new Error(`${spec} has no tag ${options.tag}`);
        at = reader.atRoot(tag.hash);
      }
      const dest = path.join(options.out, `${i}`);
      await pull(at, dest);
      trees.push(dest);
    } finally {
      await reader.close();
      source.close();
    }
  }
  const opts = { withOwners: process.getuid?.() === 0, withMtime: true };
  const [x, y] = await Promise.all(trees.map((t) => snapshotTree(t, opts)));
  return diffTrees(x ?? [], y ?? [], { labels: ['source', 'replica'] });
}

/**
 * cvmfs-conformance.py --strict --all-revisions on a directory or URL, run asynchronously: a
 * repository served by this very process must keep answering while the checker reads it.
 */
export async function conformant(source: string, publicKey: string): Promise<void> {
  const args = [
    CONFORMANCE_TOOL,
    source,
    '--key',
    publicKey,
    '--strict',
    '--all-revisions',
    '--max-per-rule',
    '5',
  ];
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('python3', args, { timeout: 300_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
  assert.equal(r.code, 0, `cvmfs-conformance.py --strict failed on ${source}:\n${r.out}`);
}

/** Runs the barge CLI as a child without blocking this process (which may be serving its source). */
export function runBargeAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BARGE_BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          status: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}
