/** How numbers, sizes and times read on the dashboard. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB" (binary units, as the CLI prints them). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

/** 1234567 → "1,234,567". */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US');
}

/** A span of seconds in the largest unit that fits: "3 d", "5 h", "12 min", "40 s". */
export function span(seconds: number): string {
  const s = Math.abs(seconds);
  if (s >= 86400 * 2) return `${Math.floor(s / 86400)} d`;
  if (s >= 3600 * 2) return `${Math.floor(s / 3600)} h`;
  if (s >= 120) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s)} s`;
}

/** An ISO time relative to now: "5 min ago", "in 3 d". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  return seconds >= 0 ? `in ${span(seconds)}` : `${span(seconds)} ago`;
}

/** An ISO time as "2025-01-31 14:05 UTC". */
export function when(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '–';
}

/** "sha256:abcdef…" shortened to its first 12 hex digits. */
export function shortDigest(d: string | null | undefined): string {
  if (!d) return '–';
  const hex = d.replace(/^sha256:/, '');
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : hex;
}
