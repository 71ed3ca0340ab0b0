import { S_IFDIR, S_IFMT } from '../catalog/index.js';
import type { Publisher } from '../publish/index.js';
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
}

/** The images of the current revision, from their metadata records. */
export async function listImages(
  publisher: Publisher,
): Promise<(ImageRecord & { files: number; bytes: number })[]> {
  const tree = publisher.newTree();
  const out: (ImageRecord & { files: number; bytes: number })[] = [];
  const stack = [METADATA_DIR];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const d of await tree.list(dir)) {
      if (d.name === 'barge.json') {
        const record = JSON.parse(
          (await publisher.readFile(d.path))?.toString('utf8') ?? '{}',
        ) as ImageRecord;
        const root = await tree.owner(record.root);
        const counters = root.mountpoint === record.root ? root.original : null;
        const files = counters ? counters.self.regular + counters.subtree.regular : 0;
        const bytes = counters ? counters.self.file_size + counters.subtree.file_size : 0;
        out.push({ ...record, files, bytes });
      } else if ((d.mode & S_IFMT) === S_IFDIR) stack.push(d.path);
    }
  }
  return out.sort((a, b) => (a.reference < b.reference ? -1 : 1));
}

/** The record of an image name in the current revision, if any. */
export async function readRecord(publisher: Publisher, name: ImageName): Promise<ImageRecord | undefined> {
  const data = await publisher.readFile(`${metadataDir(name)}/barge.json`);
  return data ? (JSON.parse(data.toString('utf8')) as ImageRecord) : undefined;
}
