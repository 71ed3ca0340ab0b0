/**
 * For tests only (not exported): small single-layer images in an OCI layout, made with umoci
 * unpack + repack (umoci 0.4.7's `insert` writes truncated layers, so buildOciLayout's images do
 * not flatten). Each image gets a random `.nonce` file: its config digest, flat root and nonce
 * object are its own.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Publisher } from '../publish/index.js';

const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Adds image `tag` to the layout at `layout` (made if missing): one layer holding `files` (path → content). */
export function buildImage(layout: string, tag: string, files: Record<string, string>): void {
  if (!existsSync(path.join(layout, 'index.json'))) umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:${tag}`);
  const bundle = `${layout}.bundle-${tag}`;
  rmSync(bundle, { recursive: true, force: true });
  umoci('unpack', '--rootless', '--image', `${layout}:${tag}`, bundle);
  for (const [file, content] of Object.entries({ ...files, '.nonce': randomBytes(16).toString('hex') })) {
    mkdirSync(path.dirname(path.join(bundle, 'rootfs', file)), { recursive: true });
    writeFileSync(path.join(bundle, 'rootfs', file), content);
  }
  umoci('repack', '--image', `${layout}:${tag}`, bundle);
  rmSync(bundle, { recursive: true, force: true });
}

/** Runs `use` with repository `fqrn` of `data` open for writing, closing it after. */
export async function withPublisher<T>(
  data: string,
  fqrn: string,
  use: (p: Publisher) => Promise<T>,
): Promise<T> {
  const p = await Publisher.open(data, fqrn, 'test');
  try {
    return await use(p);
  } finally {
    await p.close();
  }
}
