import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { S_IFREG } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import {
  CATALOG_MARKER,
  directoryEntry,
  IngestPool,
  Ledger,
  ObjectWriter,
  type PublishResult,
  type RepositoryConfig,
  readRepositoryConfig,
  StagingSession,
  type WorkingTree,
} from '../publish/index.js';
import { isFqrn, repositoryPaths } from '../repository/index.js';
import { FsObjectStore, openObjectStore } from '../storage/index.js';
import { type BatchedChange, CommitQueue } from './commit-queue.js';
import { applyStagedTarball, type StagedTarball, stageTarball } from './tarball.js';
import type { TarballLimits } from './tarball-limits.js';
import type { TarballBody } from './tarball-meter.js';
import type { UploadId } from './upload-id.js';
import { type UploadRecord, UploadsDb } from './uploads-db.js';

/** Options of the upload service. */
export interface UploadServiceOptions {
  dataDir: string;
  /** Overrides of the tarball limits. */
  limits?: Partial<TarballLimits>;
  /** How long the first upload of a batch waits for others (default 100 ms). */
  gatherMs?: number;
  /** The clock, in unix seconds (tests move it). */
  now?: () => number;
}

/** Where an upload stands, as `exists` reports it. */
export type UploadStatus =
  | { present: true; fqrn: string; path: string; record: UploadRecord }
  | { present: false };

/** What a publish did. */
export interface PublishedUpload {
  /** 'published': this request published it; 'present': it was there already (refreshed). */
  status: 'published' | 'present';
  fqrn: string;
  path: string;
  record: UploadRecord;
  revision: number;
}

interface RepoUploads {
  fqrn: string;
  config: RepositoryConfig & { uploads: NonNullable<RepositoryConfig['uploads']> };
  db: UploadsDb;
  queue: CommitQueue;
  /** A staging writer for one upload (sharing the repository's worker threads). */
  newWriter: () => ObjectWriter;
  /**
   * The service's writer session in the repository's gc ledger: uploads are stored outside the
   * lock, before their batch, so the session lives as long as the service; if the server dies,
   * the next writer ends it and gc collects what no batch committed.
   */
  ledger: Ledger;
  staging: StagingSession;
}

/** A staged upload on its way into a batch. */
interface UploadChange extends BatchedChange {
  record: UploadRecord;
}

/**
 * User code uploads for every repository of a data directory that takes them (`barge uploads
 * enable`): stages tarballs as they stream in (many at once, contents compressed on a shared pool
 * of worker threads), commits them in batches through one CommitQueue per repository, and keeps
 * each repository's ledger (uploads.db) of what it holds, when each upload was last used, and
 * pins. Answers exists/update/publish for the cvmfs-user-pub and JSON APIs.
 */
export class UploadService {
  private readonly repos = new Map<string, RepoUploads>();
  /** Uploads being staged or committed, by cid: a second publish of one waits for the first. */
  private readonly inFlight = new Map<string, Promise<PublishedUpload>>();
  /** Ingest worker threads per repository, shared by all its uploads. */
  private readonly pools = new Map<string, IngestPool>();
  private readonly now: () => number;

  private constructor(private readonly options: UploadServiceOptions) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Opens the service over every repository of `dataDir` with uploads enabled. */
  static async open(options: UploadServiceOptions): Promise<UploadService> {
    const service = new UploadService(options);
    await service.refresh();
    return service;
  }

  /** Picks up repositories enabled (or disabled) since the last call. */
  async refresh(): Promise<void> {
    const reposDir = path.join(path.resolve(this.options.dataDir), 'repos');
    const names = (await fsp.readdir(reposDir).catch(() => [] as string[])).filter(isFqrn).sort();
    for (const fqrn of names) {
      if (this.repos.has(fqrn)) continue;
      const paths = repositoryPaths(this.options.dataDir, fqrn);
      const config = await readRepositoryConfig(paths.state, fqrn).catch(() => undefined);
      if (!config?.uploads) continue;
      const db = new UploadsDb(paths.state);
      const store = openObjectStore(paths, config);
      const ledger = Ledger.open(paths.state);
      const staging = new StagingSession(ledger);
      // One writer per upload: a writer remembers every content it stored (for dedup within a
      // publish), which in a writer shared by all uploads grew for the life of the server. It
      // also makes addedBytes exact. Writers are never closed: that would stop the shared
      // workers under other uploads. Ingest workers write object files themselves: only into a
      // filesystem store.
      const newWriter = () =>
        new ObjectWriter(staging.wrap(store), {
          algorithm: config.hashAlgorithm,
          chunkSizes: config.chunkSizes,
          ...(store instanceof FsObjectStore
            ? { pool: () => this.sharedPool(fqrn, paths.served, config, staging) }
            : {}),
        });
      const queue = new CommitQueue({
        dataDir: this.options.dataDir,
        fqrn,
        gatherMs: this.options.gatherMs ?? 100,
        beforeCommit: (changes) => db.put(changes.map((c) => (c as UploadChange).record)),
        afterCommit: (result, changes) =>
          db.markPublished(
            changes.map((c) => (c as UploadChange).record.cid),
            result.revision,
          ),
      });
      const repo: RepoUploads = {
        fqrn,
        config: { ...config, uploads: config.uploads },
        db,
        queue,
        newWriter,
        ledger,
        staging,
      };
      await this.reconcile(repo);
      this.repos.set(fqrn, repo);
    }
  }

  /** Repositories taking uploads, in name order (cvmfs-user-pub's `config` lists them). */
  repositories(): string[] {
    return [...this.repos.keys()];
  }

  /** The ledger of one repository. */
  ledger(fqrn: string): UploadsDb {
    return this.repo(fqrn).db;
  }

  /** The commit queue of one repository (images and expiry run through it too). */
  queue(fqrn: string): CommitQueue {
    return this.repo(fqrn).queue;
  }

  /** Where an upload is published, refreshing its expiry clock when `touch`. */
  exists(id: UploadId, touch: boolean): UploadStatus {
    for (const repo of this.repos.values()) {
      const record = repo.db.get(id.cid);
      if (record?.state !== 'published') continue;
      if (touch) repo.db.touch(id.cid, this.now());
      return { present: true, fqrn: repo.fqrn, path: this.cvmfsPath(repo.fqrn, record.path), record };
    }
    return { present: false };
  }

  /**
   * Publishes an upload: stages the body (checked against the cid's digest and every limit),
   * then waits for the batch revision that holds it. An id published already is refreshed and the
   * body drained unread; an id being published by another request waits for that one.
   */
  async publish(id: UploadId, body: TarballBody, publisher: string): Promise<PublishedUpload> {
    const present = this.exists(id, true);
    if (present.present) {
      await drain(body);
      return { status: 'present', ...present, revision: present.record.revision };
    }
    const running = this.inFlight.get(id.cid);
    if (running) {
      await drain(body);
      return running;
    }
    const work = this.stageAndCommit(id, body, publisher);
    this.inFlight.set(id.cid, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(id.cid);
    }
  }

  private async stageAndCommit(id: UploadId, body: TarballBody, publisher: string): Promise<PublishedUpload> {
    const repo = this.pickRepository(id);
    // The next batch waits for this upload while it streams in (within the queue's gather window).
    const arrived = repo.queue.expect();
    try {
      return await this.stageAndSubmit(repo, id, body, publisher, arrived);
    } finally {
      arrived();
    }
  }

  private async stageAndSubmit(
    repo: RepoUploads,
    id: UploadId,
    body: TarballBody,
    publisher: string,
    arrived: () => void,
  ): Promise<PublishedUpload> {
    const digest = createHash(id.algorithm);
    const writer = repo.newWriter();
    // A refused body may be unread past the point of refusal: the HTTP layer closes the connection.
    const staged: StagedTarball = await stageTarball(tap(body, digest), {
      writer,
      algorithm: repo.config.hashAlgorithm,
      label: id.cid,
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    });
    const actual = digest.digest('hex');
    if (actual !== id.digest) {
      throw new BargeError(
        'UPLOAD_DIGEST_MISMATCH',
        `the tarball's ${id.algorithm} is ${actual}, not the ${id.digest} its cid names`,
        { hint: `the cid of an upload is <group>/<${id.algorithm} of the exact bytes sent>` },
      );
    }
    const { prefix } = repo.config.uploads;
    const now = this.now();
    const record: UploadRecord = {
      cid: id.cid,
      group: id.group,
      path: `/${prefix}/${id.group}/${id.digest}`,
      state: 'pending',
      tarballBytes: staged.compressedBytes,
      files: staged.files,
      bytes: staged.bytes,
      addedBytes: writer.stats.bytesWritten,
      revision: 0,
      createdAt: now,
      lastUsedAt: now,
      pinned: false,
      publisher,
    };
    const algorithm = repo.config.hashAlgorithm;
    const change: UploadChange = {
      record,
      apply: async (tree, writer) => {
        const empty = (await writer.ingestBuffer(Buffer.alloc(0))).hash;
        await ensureCatalogDir(tree, `/${prefix}`, algorithm, empty);
        await ensureCatalogDir(tree, `/${prefix}/${id.group}`, algorithm, empty);
        await applyStagedTarball(tree, record.path, staged, algorithm);
      },
    };
    const committed = repo.queue.submit(change);
    arrived();
    const result = await committed;
    return {
      status: 'published',
      fqrn: repo.fqrn,
      path: this.cvmfsPath(repo.fqrn, record.path),
      record: { ...record, state: 'published', revision: result.revision },
      revision: result.revision,
    };
  }

  /** Pins (or unpins) a published upload; UPLOAD_NOT_FOUND if there is none. */
  setPinned(id: UploadId, pinned: boolean): UploadRecord {
    for (const repo of this.repos.values()) {
      if (repo.db.setPinned(id.cid, pinned)) return repo.db.get(id.cid) as UploadRecord;
    }
    throw new BargeError('UPLOAD_NOT_FOUND', `no upload ${id.cid} is published here`);
  }

  /** Published uploads of a group in every repository. */
  listGroup(group: string): (UploadRecord & { fqrn: string })[] {
    return [...this.repos.values()].flatMap((r) =>
      r.db.listGroup(group).map((u) => ({ ...u, fqrn: r.fqrn })),
    );
  }

  /**
   * Removes every upload of `fqrn` idle longer than its expiry and not pinned, in one revision;
   * their objects stay until gc. Returns what was removed.
   */
  async expire(fqrn: string): Promise<{ removed: UploadRecord[]; result?: PublishResult }> {
    const repo = this.repo(fqrn);
    return expireUploads(repo.queue, repo.db, repo.config.uploads.expiryDays, this.now());
  }

  /** Finishes queued batches and stops the worker threads. */
  async close(): Promise<void> {
    for (const repo of this.repos.values()) {
      await repo.queue.close();
      repo.db.close();
    }
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
    for (const repo of this.repos.values()) {
      repo.staging.end();
      repo.ledger.close();
    }
    this.repos.clear();
  }

  /** `/cvmfs/<fqrn><path>`, the path a job reads. */
  private cvmfsPath(fqrn: string, p: string): string {
    return `/cvmfs/${fqrn}${p}`;
  }

  private repo(fqrn: string): RepoUploads {
    const repo = this.repos.get(fqrn);
    if (!repo) {
      throw new BargeError('REPO_NOT_FOUND', `repository ${fqrn} takes no uploads here`, {
        hint: `enable them with 'barge uploads enable ${fqrn}' and restart barge serve`,
      });
    }
    return repo;
  }

  /** Spreads groups over the upload repositories, stably (one group's uploads stay together). */
  private pickRepository(id: UploadId): RepoUploads {
    const all = [...this.repos.values()];
    if (all.length === 0) {
      throw new BargeError('REPO_NOT_FOUND', 'no repository of this server takes uploads', {
        hint: "enable them with 'barge uploads enable <fqrn>' and restart barge serve",
      });
    }
    const h = createHash('sha256').update(id.group).digest().readUInt32BE(0);
    return all[h % all.length] as RepoUploads;
  }

  /**
   * The ingest workers of one repository, shared by all its uploads: the service never closes its
   * staging writers (that would stop the workers under other uploads), only close() stops them.
   */
  private sharedPool(
    fqrn: string,
    root: string,
    config: RepositoryConfig,
    staging: StagingSession,
  ): IngestPool {
    let pool = this.pools.get(fqrn);
    if (!pool) {
      pool = new IngestPool(root, config.hashAlgorithm, config.chunkSizes, staging);
      this.pools.set(fqrn, pool);
    }
    return pool;
  }

  /** Pending rows of a crashed run: published if the tree has them, else forgotten (clients retry). */
  private async reconcile(repo: RepoUploads): Promise<void> {
    const pending = repo.db.all().filter((r) => r.state === 'pending');
    if (pending.length === 0) return;
    await repo.queue.exclusive(async (publisher) => {
      const tree = publisher.newTree();
      const published: string[] = [];
      const lost: string[] = [];
      for (const r of pending)
        ((await tree.get(`${r.path}/${CATALOG_MARKER}`)) ? published : lost).push(r.cid);
      repo.db.markPublished(published, publisher.manifest.revision);
      repo.db.delete(lost);
    });
  }
}

/** Removes idle uploads in one revision through `queue`; shared by the service and `barge uploads expire`. */
export async function expireUploads(
  queue: CommitQueue,
  db: UploadsDb,
  expiryDays: number,
  now: number,
): Promise<{ removed: UploadRecord[]; result?: PublishResult }> {
  const idle = db.idleSince(now - Math.round(expiryDays * 86400));
  if (idle.length === 0) return { removed: [] };
  const result = await queue.exclusive((publisher) =>
    publisher.applyChanges(async (tree) => {
      for (const u of idle) if (await tree.has(u.path)) await tree.remove(u.path);
    }),
  );
  db.delete(idle.map((u) => u.cid));
  return { removed: idle, result };
}

/** A directory that is its own nested catalog (the prefix and each group), made once. */
async function ensureCatalogDir(
  tree: WorkingTree,
  dir: string,
  algorithm: RepositoryConfig['hashAlgorithm'],
  emptyHash: string | null,
): Promise<void> {
  if (!(await tree.get(dir))) await tree.put({ ...directoryEntry(dir, algorithm), uid: 0, gid: 0 });
  const marker = `${dir}/${CATALOG_MARKER}`;
  if (!(await tree.get(marker))) {
    const file = { mode: S_IFREG | 0o644, size: 0, uid: 0, gid: 0, linkcount: 1, hash: emptyHash };
    await tree.put({ ...directoryEntry(marker, algorithm), ...file });
  }
}

/**
 * Passes a body through while hashing it. A request stream is iterated without destroyOnReturn:
 * when staging refuses the upload midway, the socket must stay up for the error answer.
 */
async function* tap(body: TarballBody, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  const readable = body as Readable;
  const source: AsyncIterable<Uint8Array> =
    typeof readable.iterator === 'function'
      ? readable.iterator({ destroyOnReturn: false })
      : (body as AsyncIterable<Uint8Array>);
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Reads a body to its end and drops it (the answer must not go out before the request is read). */
async function drain(body: TarballBody): Promise<void> {
  for await (const _ of body as AsyncIterable<Uint8Array>) {
    // discard
  }
}
