import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BargeError, errnoCode } from '../error/index.js';
import { FsObjectStore, type ObjectStore } from '../storage/index.js';
import { type HttpSourceOptions, httpSource } from './http-source.js';
import { type RepositorySource, storeSource } from './source.js';

/** A source opened by openSource; close() releases its connections (a no-op for a directory). */
export interface OpenedSource extends RepositorySource {
  close(): void;
}

/**
 * Opens a repository given as the user typed it: an http(s) base URL
 * (`http://host/cvmfs/<fqrn>`), a `file:` URL, or a local directory laid out as served (one with
 * `.cvmfspublished` and `data/`). SOURCE_NOT_FOUND if the directory does not exist.
 */
export async function openSource(spec: string, options: HttpSourceOptions = {}): Promise<OpenedSource> {
  if (/^https?:\/\//i.test(spec)) return httpSource(spec, options);
  let dir = spec;
  if (/^file:/i.test(spec)) dir = fileURLToPath(spec);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new BargeError('INVALID_ARGUMENT', `cannot open a repository at '${spec}'`, {
      hint: 'give an http(s) URL (http://host/cvmfs/<fqrn>) or a local directory',
    });
  }
  dir = path.resolve(dir);
  let isDir: boolean;
  try {
    isDir = (await fsp.stat(dir)).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    throw new BargeError('SOURCE_NOT_FOUND', `there is no repository directory at ${dir}`, {
      cause: err,
      hint: 'give the directory that holds .cvmfspublished and data/, or an http(s) URL',
    });
  }
  if (!isDir) {
    throw new BargeError('INVALID_ARGUMENT', `${dir} is not a directory`, {
      hint: 'give the directory that holds .cvmfspublished and data/, or an http(s) URL',
    });
  }
  // Read only: durability of writes does not matter here.
  return { ...storeSource(new FsObjectStore(dir, { durable: false }), dir), close: () => {} };
}

/** A source over a repository's own store (one of this data directory kept in S3); close() closes it. */
export function openStoreSource(store: ObjectStore, location: string): OpenedSource {
  return { ...storeSource(store, location), close: () => (store as { close?: () => void }).close?.() };
}
