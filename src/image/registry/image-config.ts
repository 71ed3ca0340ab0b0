import { BargeError } from '../../error/index.js';
import { isObject } from './image-manifest.js';

/** The runtime part of an image config (OCI image spec config.md; Docker's is the same). */
export interface ContainerConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
  Volumes?: Record<string, unknown> | null;
  StopSignal?: string;
  [key: string]: unknown;
}

/** A parsed image config; fields barge does not use are kept as they came. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs?: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
  [key: string]: unknown;
}

/** Parses config bytes, checking the fields barge relies on (platform strings, rootfs.diff_ids). */
export function parseImageConfig(bytes: Buffer, where: string): ImageConfig {
  const invalid = (why: string) =>
    new BargeError('IMAGE_MANIFEST_INVALID', `the image config of ${where} is invalid: ${why}`, {
      hint: 'the image is broken in the registry; push it again',
      details: { where },
    });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('it is not JSON');
  }
  if (!isObject(json)) throw invalid('it is not a JSON object');
  for (const field of ['architecture', 'os', 'variant'] as const) {
    if (json[field] !== undefined && typeof json[field] !== 'string')
      throw invalid(`${field} is not a string`);
  }
  if (json.config !== undefined && json.config !== null && !isObject(json.config))
    throw invalid('config is not an object');
  if (json.rootfs !== undefined) {
    const rootfs = json.rootfs;
    if (
      !isObject(rootfs) ||
      !Array.isArray(rootfs.diff_ids) ||
      !rootfs.diff_ids.every((d) => typeof d === 'string')
    ) {
      throw invalid('rootfs.diff_ids is not a list of digests');
    }
  }
  return json as ImageConfig;
}
