import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BargeError, errnoCode } from '../error/index.js';
import { DEFAULT_CHUNK_SIZES } from '../object/index.js';

/** Per-repository settings, fixed at init (stored in the state directory, never served). */
export const RepositoryConfigSchema = z.object({
  fqrn: z.string(),
  /** Content hash algorithm of new objects (cvmfs default sha1; shake128 recommended for new repositories). */
  hashAlgorithm: z.enum(['sha1', 'rmd160', 'shake128']).default('sha1'),
  /** Root catalog TTL: how often clients check for a new revision (seconds). */
  ttl: z.number().int().positive().default(240),
  /** Chunking of large files; null turns it off. */
  chunkSizes: z
    .object({
      min: z.number().int().positive(),
      avg: z.number().int().positive(),
      max: z.number().int().positive(),
    })
    .nullable()
    .default(DEFAULT_CHUNK_SIZES),
  /** Lifetime of a signed whitelist (days); `barge resign` renews it. */
  whitelistDays: z.number().int().positive().default(30),
  /** Flush objects to disk before swapping in a manifest. */
  durable: z.boolean().default(true),
});

/** Validated repository settings. */
export type RepositoryConfig = z.infer<typeof RepositoryConfigSchema>;

const FILE = 'repository.json';

/** Reads the settings of a repository from its state directory. */
export async function readRepositoryConfig(stateDir: string, fqrn: string): Promise<RepositoryConfig> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(stateDir, FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new BargeError('REPO_NOT_FOUND', `repository ${fqrn} does not exist in this data directory`, {
        hint: `create it with 'barge init ${fqrn}', or point --data / BARGE_DATA at the right directory`,
      });
    }
    throw err;
  }
  const parsed = RepositoryConfigSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `${path.join(stateDir, FILE)} is invalid: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

/** Writes the settings atomically. */
export async function writeRepositoryConfig(stateDir: string, config: RepositoryConfig): Promise<void> {
  await fsp.mkdir(stateDir, { recursive: true });
  const tmp = path.join(stateDir, `${FILE}.tmp`);
  await fsp.writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`);
  await fsp.rename(tmp, path.join(stateDir, FILE));
}
