/** How the registry client retries 429, 5xx and broken connections. */
export interface RetryPolicy {
  /** Attempts after the first (default 4). */
  retries: number;
  /** Delay before the first retry in ms (default 500); doubles each time, with jitter. */
  backoffMs: number;
  /** Longest computed delay between attempts (default 15 000). */
  maxBackoffMs: number;
  /**
   * Longest Retry-After barge waits for (default 60 000); a registry asking for more (Docker
   * Hub's pull limit resets after hours) fails at once with REGISTRY_RATE_LIMITED.
   */
  maxRetryAfterMs: number;
}

/** The defaults of RetryPolicy. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  backoffMs: 500,
  maxBackoffMs: 15_000,
  maxRetryAfterMs: 60_000,
};

/**
 * The delay before retry number `attempt` (0 for the first): exponential with "equal jitter"
 * (half to all of the step), so clients that failed together do not come back together; never
 * shorter than the server's Retry-After.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const step = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
  const delay = step * (0.5 + Math.random() / 2);
  return Math.max(delay, retryAfterMs ?? 0);
}

/** A Retry-After header (delay in seconds or an HTTP date, RFC 9110 §10.2.3) in ms from now. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
