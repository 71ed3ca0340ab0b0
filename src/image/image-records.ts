import { S_IFDIR, S_IFMT } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import type { Publisher, WorkingTree } from '../publish/index.js';
import { type ImageName, METADATA_DIR, metadataDir } from './image-layout.js';

/** What barge.json in an image's metadata directory records. */
export interface ImageRecord {
  reference: string;
  sourceDigest: string;
  manifestDigest: string | null;
  configDigest: string;
  platform: string;
  layers: { digest: string; size: number }[];
  root: string;
  /** Multi-arch images: one flat root per platform (`root` is amd64's, else the first). */
  platforms?: { platform: string; arch: string; root: string; configDigest: string }[];
}

/** The images of the current revision, from their metadata records. */
export async function listImages(
  publisher: Publisher,
): Promise<(ImageRecord & { files: number; bytes: number })[]> {
  const tree = publisher.newTree();
  const out: (ImageRecord & { files: number; bytes: number })[] = [];
  for await (const record of imageRecords(publisher, tree)) {
    const root = await tree.owner(record.root);
    const counters = root.mountpoint === record.root ? root.original : null;
    const files = counters ? counters.self.regular + counters.subtree.regular : 0;
    const bytes = counters ? counters.self.file_size + counters.subtree.file_size : 0;
    out.push({ ...record, files, bytes });
  }
  return out.sort((a, b) => (a.reference < b.reference ? -1 : 1));
}

/**
 * Every flat root an image record of the current revision names: `root`, and each platform's of
 * a multi-arch record. A record that cannot be read fails the whole answer (IMAGE_INVALID): gc
 * must never take a root for unnamed because the record naming it was unreadable.
 */
export async function referencedRoots(publisher: Publisher): Promise<Set<string>> {
  const roots = new Set<string>();
  for await (const record of imageRecords(publisher, publisher.newTree())) {
    if (typeof record.root !== 'string') throw invalidRecord(record.reference, 'it names no root');
    roots.add(record.root);
    for (const p of record.platforms ?? []) roots.add(p.root);
  }
  return roots;
}

/** The barge.json records under /.metadata, in no particular order. */
async function* imageRecords(publisher: Publisher, tree: WorkingTree): AsyncGenerator<ImageRecord> {
  const stack = [METADATA_DIR];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const d of await tree.list(dir)) {
      if (d.name === 'barge.json') {
        const text = (await publisher.readFile(d.path))?.toString('utf8') ?? '';
        let record: ImageRecord;
        try {
          record = JSON.parse(text) as ImageRecord;
        } catch (cause) {
          throw invalidRecord(d.path, (cause as Error).message);
        }
        yield record;
      } else if ((d.mode & S_IFMT) === S_IFDIR) stack.push(d.path);
    }
  }
}

function invalidRecord(where: string, why: string): BargeError {
  return new BargeError('IMAGE_INVALID', `the image record ${where} cannot be read: ${why}`, {
    hint: 'add the image again (barge images add) or remove it (barge images rm); gc removes no flat root meanwhile',
  });
}

/** The record of an image name in the current revision, if any. */
export async function readRecord(publisher: Publisher, name: ImageName): Promise<ImageRecord | undefined> {
  const data = await publisher.readFile(`${metadataDir(name)}/barge.json`);
  return data ? (JSON.parse(data.toString('utf8')) as ImageRecord) : undefined;
}
