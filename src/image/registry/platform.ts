import { BargeError } from '../../error/index.js';

/** The platform an image runs on, as in OCI index entries and image configs. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The platform picked when none is asked for: what grid worker nodes run. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Parses `os/architecture[/variant]` (`linux/arm64/v8`). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9._-]+$/.test(p))) {
    throw new BargeError('INVALID_ARGUMENT', `'${text}' is not a platform`, {
      hint: 'write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8',
    });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/architecture[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/**
 * The platform in canonical form, as containerd normalises it (platforms/database.go): aliases such
 * as x86_64 and aarch64 become amd64 and arm64, arm64's default variant v8 and amd64's v1 drop out,
 * and 32-bit arm without a variant means v7. Two platforms are the same when their forms are equal.
 */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  if (variant !== undefined && /^\d+$/.test(variant)) variant = `v${variant}`;
  switch (architecture) {
    case 'i386':
      architecture = '386';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === 'v8' || variant === 'v8.0') variant = undefined;
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      variant ??= 'v7';
      break;
  }
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** True when `have` is the platform `want` asks for (after normalising both). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const a = normalizePlatform(want);
  const b = normalizePlatform(have);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/** A platform given as text or as an object. */
export function toPlatform(platform: Platform | string | undefined): Platform {
  if (platform === undefined) return DEFAULT_PLATFORM;
  return typeof platform === 'string' ? parsePlatform(platform) : platform;
}
