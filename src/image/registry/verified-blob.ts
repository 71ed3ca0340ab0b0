import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BargeError, isBargeError } from '../../error/index.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import type { TransportResponse } from './http-transport.js';
import type { RegistryEventListener } from './registry-event.js';

/** What verifiedBlob needs: the blob's identity and a way to (re)open it. */
export interface VerifiedBlobOptions {
  digest: string;
  size: number;
  /** `blob sha256:… of <repository>`, for messages. */
  what: string;
  registry: string;
  /**
   * A 200 or 206 answer for the blob from `offset` on (a Range request when > 0). Auth, redirects
   * and retries of failed statuses happen inside; it throws a BargeError when they are used up.
   */
  open(offset: number): Promise<TransportResponse>;
  policy: RetryPolicy;
  onEvent?: RegistryEventListener | undefined;
}

/**
 * The bytes of a blob as a stream that ends only if they are exactly `size` bytes with the expected
 * digest; otherwise it fails with BLOB_SIZE_MISMATCH or BLOB_DIGEST_MISMATCH. A broken connection
 * is resumed with a Range request; a registry that answers the whole blob instead (200) is read
 * again from the start, skipping what was already delivered (the blob is immutable, and the
 * digest over everything delivered still proves it). Attempts are counted from the last progress.
 */
export function verifiedBlob(options: VerifiedBlobOptions): Readable {
  return new VerifiedBlobStream(options);
}

/**
 * The stream over blobChunks. Not Readable.from: that one waits for the generator's current step
 * before it closes, and a step can wait on a stalled body until the idle timeout; here destroy()
 * aborts at once, cutting the body in flight and ending any backoff sleep.
 */
class VerifiedBlobStream extends Readable {
  private readonly abort = new AbortController();
  private readonly chunks: AsyncGenerator<Buffer>;
  private pumping = false;

  constructor(options: VerifiedBlobOptions) {
    super();
    this.chunks = blobChunks(options, this.abort.signal);
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.abort.abort();
    this.chunks.return(undefined).catch(() => {});
    callback(err);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const { value, done } = await this.chunks.next();
        if (this.destroyed) return;
        if (done) {
          this.push(null);
          return;
        }
        if (!this.push(value)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }
}

async function* blobChunks(options: VerifiedBlobOptions, signal: AbortSignal): AsyncGenerator<Buffer> {
  const { digest, size, what } = options;
  const [algorithm, expectedHex] = digest.split(':') as [string, string];
  const hash = createHash(algorithm);
  let offset = 0;
  let failures = 0;
  for (;;) {
    const before = offset;
    const res = await options.open(offset);
    const cut = () => res.body.destroy();
    signal.addEventListener('abort', cut, { once: true });
    try {
      if (signal.aborted) return;
      let skip = 0;
      if (res.status === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
        const start = range ? Number(range[1]) : Number.NaN;
        if (!(start <= offset) || (range?.[3] !== '*' && Number(range?.[3]) !== size)) {
          throw protocol(
            options,
            `answered a range request with Content-Range '${res.headers['content-range']}'`,
          );
        }
        skip = offset - start;
        options.onEvent?.({ kind: 'resume', digest, offset });
      } else {
        const length = res.headers['content-length'];
        if (length !== undefined && Number(length) !== size)
          throw sizeMismatch(options, `the registry announces ${length} bytes`);
        skip = offset;
        if (offset > 0) options.onEvent?.({ kind: 'restart', digest, offset });
      }
      for await (const data of res.body as AsyncIterable<Buffer>) {
        let chunk = data;
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
          if (chunk.length === 0) continue;
        }
        // Stop at once when the registry sends too much: no unbounded read into the pipeline.
        if (offset + chunk.length > size)
          throw sizeMismatch(options, `the registry sent more than ${size} bytes`);
        hash.update(chunk);
        offset += chunk.length;
        yield chunk;
      }
      if (offset === size) break;
      throw new Error(`the body ended after ${offset} of ${size} bytes`);
    } catch (err) {
      if (signal.aborted) return;
      if (isBargeError(err)) throw err;
      // Progress since the last failure resets the count: a long download over a bad line
      // finishes as long as each attempt moves it forward.
      failures = offset > before ? 1 : failures + 1;
      if (failures > options.policy.retries) {
        throw new BargeError(
          'REGISTRY_UNAVAILABLE',
          `download of ${what} from ${options.registry} kept failing at byte ${offset} of ${size}: ${(err as Error).message}`,
          {
            cause: err,
            hint: 'check the network path to the registry (and its storage, where it redirects blobs), then try again',
            details: { registry: options.registry, digest, offset, size },
          },
        );
      }
      try {
        await sleep(backoffDelay(options.policy, failures - 1), undefined, { signal });
      } catch {
        return;
      }
    } finally {
      signal.removeEventListener('abort', cut);
      res.body.destroy();
    }
  }
  const actual = hash.digest('hex');
  if (actual !== expectedHex) {
    throw new BargeError(
      'BLOB_DIGEST_MISMATCH',
      `${what} from ${options.registry} has digest ${algorithm}:${actual}`,
      {
        hint: 'the registry, a proxy or the network changed the bytes; try again, and tell the registry operator if it persists',
        details: { registry: options.registry, expected: digest, actual: `${algorithm}:${actual}`, size },
      },
    );
  }
}

function sizeMismatch(options: VerifiedBlobOptions, why: string): BargeError {
  return new BargeError(
    'BLOB_SIZE_MISMATCH',
    `${options.what} from ${options.registry} is not ${options.size} bytes: ${why}`,
    {
      hint: 'the manifest and the blob disagree; the image is broken in the registry, or a proxy changed it',
      details: { registry: options.registry, digest: options.digest, size: options.size },
    },
  );
}

function protocol(options: VerifiedBlobOptions, why: string): BargeError {
  return new BargeError('REGISTRY_PROTOCOL_ERROR', `${options.registry} ${why} for ${options.what}`, {
    hint: 'the registry (or a proxy) handles range requests wrongly; tell its operator',
    details: { registry: options.registry, digest: options.digest },
  });
}
