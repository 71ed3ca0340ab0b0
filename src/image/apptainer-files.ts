// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings here are shell script lines, where ${NAME} is parameter expansion
/**
 * The Apptainer/Singularity files barge adds to every flat root so that `apptainer exec|run|shell`
 * works on the unpacked image: mount-point directories, the `.singularity.d` action and
 * environment scripts, and a runscript, environment and labels generated from the image config.
 * Same set and behaviour as DUCC and Apptainer's OCI build (docs/ducc-compatibility.md §3); the
 * script texts are our own.
 */
import { BargeError } from '../error/index.js';
import type { ImageConfig } from './layer/index.js';

/** One synthetic entry barge adds to every flat root, relative to it (no leading slash). */
export interface SyntheticEntry {
  path: string;
  type: 'directory' | 'file' | 'symlink';
  /** Permission bits only, e.g. 0o755. */
  mode: number;
  /** Files only. */
  content?: Buffer;
  /** Symlinks only; always relative, so the link stays inside the flat root. */
  target?: string;
  /**
   * true: only if the image has nothing at this path (etc/hosts, the top-level symlinks,
   * mount-point dirs); false: always written (scripts we own). The writer must not follow a
   * symlink the image put at any parent of a path.
   */
  onlyIfAbsent: boolean;
}

// Apptainer skips Env names the shell could not assign (A conveyorPacker_oci.go insertEnv); it
// is also what keeps an image's Env from injecting commands into the generated script.
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Apptainer's runtime interprets a runscript in-process only if it holds exactly this line
// (A process_linux.go getDockerRunscript); any other spelling falls back to plain /bin/sh.
const EVAL_LINE = 'eval "set ${SINGULARITY_OCI_RUN}"';

// The twelve of §3 plus `var`, which DUCC's MkdirAll of var/tmp creates implicitly.
const DIRECTORIES = [
  '.singularity.d',
  '.singularity.d/libs',
  '.singularity.d/actions',
  '.singularity.d/env',
  'dev',
  'proc',
  'root',
  'var',
  'var/tmp',
  'tmp',
  'etc',
  'sys',
  'home',
];

const SOURCE_ENV = [
  'for env_script in /.singularity.d/env/*.sh; do',
  '    if [ -f "$env_script" ]; then',
  '        . "$env_script"',
  '    fi',
  'done',
];

/** The files, directories and symlinks for one image, parents before children; same config → same bytes. */
export function apptainerFiles(config: ImageConfig): SyntheticEntry[] {
  const c = config.config ?? {};
  const entrypoint = stringList(c.Entrypoint, 'Entrypoint');
  const cmd = stringList(c.Cmd, 'Cmd');
  const env = stringList(c.Env, 'Env');
  const entries: SyntheticEntry[] = [];
  const dir = (path: string) => entries.push({ path, type: 'directory', mode: 0o755, onlyIfAbsent: true });
  const file = (path: string, text: string, mode = 0o755, onlyIfAbsent = false) =>
    entries.push({ path, type: 'file', mode, content: Buffer.from(text, 'utf8'), onlyIfAbsent });
  const link = (path: string, target: string) =>
    entries.push({ path, type: 'symlink', mode: 0o777, target, onlyIfAbsent: true });

  for (const d of DIRECTORIES) dir(d);
  // Bind-mount targets for Apptainer; an image's own hosts/resolv.conf is kept (DUCC truncates it).
  file('etc/hosts', '', 0o644, true);
  file('etc/resolv.conf', '', 0o644, true);

  file('.singularity.d/actions/exec', script(...SOURCE_ENV, 'exec "$@"'));
  file(
    '.singularity.d/actions/run',
    appAction('runscript', 'No runscript in this container; running /bin/sh.', 'exec /bin/sh "$@"'),
  );
  file('.singularity.d/actions/shell', script(...SHELL_ACTION));
  file('.singularity.d/actions/start', script(...START_ACTION));
  file(
    '.singularity.d/actions/test',
    appAction('test', 'No test in this container; running /bin/sh -c true.', 'exec /bin/sh -c true'),
  );
  file('.singularity.d/env/01-base.sh', script('# Base environment: nothing to set for an OCI image.'));
  file('.singularity.d/env/10-docker2singularity.sh', envScript(env));
  const custom = script('# Custom environment shell code goes below this line.');
  file('.singularity.d/env/90-environment.sh', custom);
  file('.singularity.d/env/91-environment.sh', custom);
  file('.singularity.d/env/95-apps.sh', script(...APPS_ENV));
  file('.singularity.d/env/99-base.sh', script(...BASE_ENV));
  file('.singularity.d/env/99-runtimevars.sh', script(...RUNTIME_VARS_ENV));
  file('.singularity.d/runscript', runscript(entrypoint, cmd));
  file('.singularity.d/startscript', script());
  file('.singularity.d/labels.json', labelsJson(c.Labels), 0o644);

  link('singularity', '.singularity.d/runscript');
  link('.run', '.singularity.d/actions/run');
  link('.exec', '.singularity.d/actions/exec');
  link('.shell', '.singularity.d/actions/shell');
  link('.test', '.singularity.d/actions/test');
  link('environment', '.singularity.d/env/90-environment.sh');
  return entries;
}

/** `env/10-docker2singularity.sh`, byte for byte what Apptainer writes: the image value is a default, PATH is set. */
function envScript(env: string[]): string {
  const lines: string[] = [];
  for (const entry of env) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!ENV_NAME.test(name)) continue;
    if (eq < 0) lines.push(`export ${name}="\${${name}:-}"`);
    else if (name === 'PATH') lines.push(`export PATH="${escapeDoubleQuoted(entry.slice(eq + 1))}"`);
    else lines.push(`export ${name}="\${${name}:-"${escapeDoubleQuoted(entry.slice(eq + 1))}"}"`);
  }
  return script(...lines);
}

/**
 * The runscript: Docker's rules (arguments replace Cmd, Entrypoint always comes first). By default
 * the words go through `eval` as Apptainer's do, so runtime arguments are shell-expanded; with
 * SINGULARITY_NO_EVAL (set by `apptainer --no-eval`) they are exec'ed exactly as given.
 */
function runscript(entrypoint: string[], cmd: string[]): string {
  // Inside single quotes, then re-read by eval inside double quotes: two layers of escaping.
  const evalWords = (words: string[]) =>
    escapeSingleQuoted(words.map((w) => `"${escapeDoubleQuoted(w)}"`).join(' '));
  const literal = (words: string[]) => words.map((w) => `'${escapeSingleQuoted(w)}'`).join(' ');
  const lines = [`OCI_ENTRYPOINT='${evalWords(entrypoint)}'`, `OCI_CMD='${evalWords(cmd)}'`, ''];
  if (entrypoint.length === 0 && cmd.length === 0) {
    // Apptainer would eval a bare `set` here and print every shell variable; Docker refuses.
    lines.push(
      'if [ $# -eq 0 ]; then',
      '    echo "This image defines neither Entrypoint nor Cmd: give the command to run as arguments." >&2',
      '    exit 1',
      'fi',
      '',
    );
  }
  lines.push('if [ -n "${SINGULARITY_NO_EVAL:-}" ]; then');
  if (cmd.length > 0) lines.push('    if [ $# -eq 0 ]; then', `        set -- ${literal(cmd)}`, '    fi');
  if (entrypoint.length > 0) lines.push(`    set -- ${literal(entrypoint)} "$@"`);
  lines.push(
    '    exec "$@"',
    'fi',
    '',
    '# Runtime arguments are double-quoted but not escaped: the eval expands them, as in Apptainer.',
    'CMDLINE_ARGS=""',
    'for arg in "$@"; do',
    '    CMDLINE_ARGS="${CMDLINE_ARGS} \\"$arg\\""',
    'done',
    'if [ $# -gt 0 ]; then',
    '    SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${CMDLINE_ARGS}"',
    'else',
    '    SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${OCI_CMD}"',
    'fi',
    EVAL_LINE,
    'exec "$@"',
  );
  return script(...lines);
}

/** `actions/run` and `actions/test`: a SCIF app's own script, else the image's, else a default. */
function appAction(name: 'runscript' | 'test', notice: string, fallback: string): string {
  return script(
    ...SOURCE_ENV,
    'if [ -n "${SINGULARITY_APPNAME:-}" ]; then',
    `    if [ -x "/scif/apps/\${SINGULARITY_APPNAME}/scif/${name}" ]; then`,
    `        exec "/scif/apps/\${SINGULARITY_APPNAME}/scif/${name}" "$@"`,
    '    fi',
    `    echo "No ${name} for the container app \${SINGULARITY_APPNAME}." >&2`,
    '    exit 1',
    'fi',
    `if [ -x /.singularity.d/${name} ]; then`,
    `    exec /.singularity.d/${name} "$@"`,
    'fi',
    `echo "${notice}" >&2`,
    fallback,
  );
}

const SHELL_ACTION = [
  ...SOURCE_ENV,
  'if [ -n "${SINGULARITY_SHELL:-}" ] && [ -x "$SINGULARITY_SHELL" ]; then',
  '    exec "$SINGULARITY_SHELL" "$@"',
  'fi',
  'if [ -x /bin/bash ]; then',
  '    SHELL=/bin/bash',
  '    PS1="Singularity ${SINGULARITY_NAME:-}:\\w> "',
  '    export SHELL PS1',
  '    exec /bin/bash --norc "$@"',
  'fi',
  'if [ -x /bin/sh ]; then',
  '    SHELL=/bin/sh',
  '    export SHELL',
  '    exec /bin/sh "$@"',
  'fi',
  'echo "No shell in this container: neither /bin/bash nor /bin/sh exists." >&2',
  'exit 1',
];

const START_ACTION = [
  '# An instance start waits for PID 1 to be continued: this is the signal.',
  'kill -CONT 1',
  ...SOURCE_ENV,
  'if [ -x /.singularity.d/startscript ]; then',
  '    exec /.singularity.d/startscript',
  'fi',
];

// SCIF apps (`--app NAME`): the app's directories first in the search paths, then its own env.
const APPS_ENV = [
  'if [ -n "${SINGULARITY_APPNAME:-}" ]; then',
  '    export SINGULARITY_APPNAME',
  '    app_dir="/scif/apps/${SINGULARITY_APPNAME}"',
  '    if [ ! -d "$app_dir/" ]; then',
  '        echo "Could not find the container app ${SINGULARITY_APPNAME} in /scif/apps." >&2',
  '        exit 1',
  '    fi',
  '    SCIF_APPS=/scif/apps',
  '    SCIF_APPROOT="$app_dir"',
  '    export SCIF_APPS SCIF_APPROOT',
  '    PATH="$app_dir${PATH:+:$PATH}"',
  '    if [ -d "$app_dir/bin" ]; then',
  '        PATH="$app_dir/bin:$PATH"',
  '    fi',
  // An empty LD_LIBRARY_PATH element would mean the current directory: no trailing colon.
  '    if [ -d "$app_dir/lib" ]; then',
  '        LD_LIBRARY_PATH="$app_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"',
  '        export LD_LIBRARY_PATH',
  '    fi',
  '    for app_env in "$app_dir/scif/env/01-base.sh" "$app_dir/scif/env/90-environment.sh"; do',
  '        if [ -f "$app_env" ]; then',
  '            . "$app_env"',
  '        fi',
  '    done',
  '    unset app_dir app_env',
  '    export PATH',
  'fi',
];

// Apptainer binds host libraries (GPU drivers) into /.singularity.d/libs: searched last.
const BASE_ENV = [
  'LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/.singularity.d/libs"',
  'PS1="Singularity> "',
  'export LD_LIBRARY_PATH PS1',
];

// `--env PATH=`, `--env PREPEND_PATH=`, `--env APPEND_PATH=` arrive in these variables.
const RUNTIME_VARS_ENV = [
  'if [ -n "${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then',
  '    PATH="${SING_USER_DEFINED_PREPEND_PATH}:${PATH}"',
  'fi',
  'if [ -n "${SING_USER_DEFINED_APPEND_PATH:-}" ]; then',
  '    PATH="${PATH}:${SING_USER_DEFINED_APPEND_PATH}"',
  'fi',
  'if [ -n "${SING_USER_DEFINED_PATH:-}" ]; then',
  '    PATH="${SING_USER_DEFINED_PATH}"',
  'fi',
  'unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH',
  'export PATH',
];

/** Tab-indented with sorted keys, as Apptainer's Go encoder writes it (A insertOCILabels); `{}` when none. */
function labelsJson(labels: unknown): string {
  if (labels === undefined || labels === null) return '{}';
  if (typeof labels !== 'object' || Array.isArray(labels)) throw invalidConfig('Labels is not an object');
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw invalidConfig(`Labels[${JSON.stringify(key)}] is not a string`);
  }
  // fromEntries defines own properties, so a label named `__proto__` is kept, not swallowed.
  return JSON.stringify(Object.fromEntries(entries), null, '\t');
}

function script(...lines: string[]): string {
  return ['#!/bin/sh', ...lines].join('\n') + '\n';
}

/** Apptainer's shell.Escape: makes text literal inside double quotes. */
function escapeDoubleQuoted(text: string): string {
  return text.replace(/[\\"`$]/g, (c) => `\\${c}`);
}

/** Closes the quote, adds a double-quoted `'`, reopens: the only way to put `'` in single quotes. */
function escapeSingleQuoted(text: string): string {
  return text.replaceAll("'", `'"'"'`);
}

/** Env, Entrypoint and Cmd as arrays of strings; Docker refuses any other shape too. */
function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidConfig(`${field} is not an array`);
  return value.map((item, i) => {
    if (typeof item !== 'string') throw invalidConfig(`${field}[${i}] is not a string`);
    // No environment variable or argument can hold a NUL; a shell script with one is undefined.
    if (item.includes('\0')) throw invalidConfig(`${field}[${i}] contains a NUL byte`);
    return item;
  });
}

function invalidConfig(problem: string): BargeError {
  return new BargeError('IMAGE_INVALID', `image config: config.${problem}`, {
    hint: 'fix the image (Env, Entrypoint and Cmd are arrays of strings, Labels maps strings to strings) and push it again',
  });
}
