/** An image platform (OCI image spec, image-index.md "platform"). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** What barge publishes when not told otherwise: grid worker nodes are overwhelmingly x86-64 Linux. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/**
 * Whether an index entry's platform satisfies the wanted one. A wanted variant must match, with
 * arm64's variant defaulting to v8 as containerd's platform matcher has it; without one, any
 * variant does.
 */
export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (!candidate || candidate.os !== wanted.os || candidate.architecture !== wanted.architecture)
    return false;
  if (wanted.variant === undefined) return true;
  const fallback = candidate.architecture === 'arm64' ? 'v8' : undefined;
  return (candidate.variant ?? fallback) === wanted.variant;
}

/** `os/architecture[/variant]`, as docker and skopeo write platforms. */
export function formatPlatform(platform: Platform | undefined): string {
  if (!platform) return 'unknown';
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}
