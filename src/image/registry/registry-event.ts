/**
 * What the registry client reports while it works, for progress output and logs. URLs are the
 * registry's (never a redirect target, whose query may hold a pre-signed credential).
 */
export type RegistryEvent =
  | { kind: 'retry'; url: string; attempt: number; delayMs: number; reason: string }
  | { kind: 'resume'; digest: string; offset: number }
  | { kind: 'restart'; digest: string; offset: number };

/** A listener for RegistryEvent. */
export type RegistryEventListener = (event: RegistryEvent) => void;
