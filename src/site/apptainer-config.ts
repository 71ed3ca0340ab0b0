/**
 * The directives of an apptainer.conf or singularity.conf, as Apptainer's own parser reads them:
 * `key = value` lines (a `#` line is a comment), and for a directive given twice the first value
 * counts. Values are kept verbatim: Apptainer refuses a value it does not know, trailing
 * comments included.
 */
export function parseApptainerConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-zA-Z _-]+?)[ \t]*=[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    const key = (m[1] as string).trim();
    const value = (m[2] as string).trim();
    if (value !== '' && !out.has(key)) out.set(key, value);
  }
  return out;
}

/** The three directives the baseline cares about, with Apptainer's defaults filled in. */
export interface ContainerModes {
  allowSetuid: boolean;
  /** `enable overlay`: yes, no, try or driver (Apptainer's default yes, Singularity's try). */
  overlay: string;
  /** `enable underlay`: yes, no or preferred (default yes). */
  underlay: string;
  /** Which of them the file set; the others are defaults. */
  set: string[];
}

/** Reads `allow setuid`, `enable overlay` and `enable underlay` (defaults where absent). */
export function containerModes(conf: Map<string, string>, kind: 'apptainer' | 'singularity'): ContainerModes {
  const set = ['allow setuid', 'enable overlay', 'enable underlay'].filter((k) => conf.has(k));
  return {
    allowSetuid: (conf.get('allow setuid') ?? 'yes') === 'yes',
    overlay: conf.get('enable overlay') ?? (kind === 'apptainer' ? 'yes' : 'try'),
    underlay: conf.get('enable underlay') ?? 'yes',
    set,
  };
}

/** True when setuid mode can add bind points missing from an image: by underlay or by overlay. */
export function canAddBindPoints(modes: ContainerModes): boolean {
  return ['yes', 'preferred'].includes(modes.underlay) || ['yes', 'try', 'driver'].includes(modes.overlay);
}
