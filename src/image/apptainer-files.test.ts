// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings here are shell text, where ${NAME} is parameter expansion
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { isBargeError } from '../error/index.js';
import { tempDir } from '../testing/temp-dir.js';
import { apptainerFiles, type SyntheticEntry } from './apptainer-files.js';
import type { ImageConfig } from './layer/index.js';

// Debian's /bin/sh is dash: the strictest POSIX shell around; bash is what most images run.
const SHELLS = ['/bin/sh', '/bin/bash'];
const MODES: { mode: string; env: Record<string, string> }[] = [
  { mode: 'eval', env: {} },
  { mode: 'SINGULARITY_NO_EVAL', env: { SINGULARITY_NO_EVAL: '1' } },
];
// Stands for the path of a printer script that shows every argument on its own line, in brackets.
const P = '<printer>';
const PRINTER = '#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n';
// Every character the shell treats specially, inside single quotes, double quotes or none.
const TRICKY = [
  "it's",
  'say "hi"',
  '$HOME',
  '${HOME}',
  '`echo injected`',
  '$(echo injected)',
  'back\\slash\\',
  '\\$HOME',
  'two  spaces',
  '',
  '*',
  '}',
  'a\nb',
  `'"'"'`,
  '; echo injected',
];

type Config = NonNullable<ImageConfig['config']>;

function imageConfig(config: ImageConfig['config']): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } };
}

/** Writes the entries as a flat-root writer would; plain mkdir proves parents come first. */
function materialise(entries: SyntheticEntry[], root: string): void {
  for (const e of entries) {
    const at = path.join(root, e.path);
    if (e.type === 'directory') mkdirSync(at, { mode: e.mode });
    else if (e.type === 'symlink') symlinkSync(e.target!, at);
    else writeFileSync(at, e.content!);
    if (e.type !== 'symlink') chmodSync(at, e.mode);
  }
}

/** A flat root of synthetic files in its own temp dir, with `<printer>` replaced by a real printer script. */
function flatRoot(t: TestContext, config: Config): { root: string; swap: (words: string[]) => string[] } {
  const { dir, cleanup } = tempDir('barge-apptainer-');
  t.after(cleanup);
  const printer = path.join(dir, 'printer');
  writeFileSync(printer, PRINTER, { mode: 0o755 });
  const swap = (words: string[]) => words.map((w) => (w === P ? printer : w));
  const root = path.join(dir, 'root');
  mkdirSync(root);
  const resolved = {
    ...config,
    Entrypoint: config.Entrypoint && swap(config.Entrypoint),
    Cmd: config.Cmd && swap(config.Cmd),
  };
  materialise(apptainerFiles(imageConfig(resolved)), root);
  return { root, swap };
}

function run(command: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  // stdin from /dev/null: bash sources ~/.bashrc when stdin is a socket, as Node's pipes are.
  const result = spawnSync(command, args, {
    env: { PATH: '/usr/bin:/bin', ...env },
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.error) throw result.error;
  return result;
}

const printed = (words: string[]) => words.map((w) => `[${w}]\n`).join('');
const text = (entries: SyntheticEntry[], p: string) =>
  entries.find((e) => e.path === p)?.content?.toString('utf8');

describe('apptainerFiles', () => {
  it('adds exactly the directories, files and symlinks of the DUCC notes, parents first', () => {
    const entries = apptainerFiles(imageConfig({}));
    const of = (type: string, ...paths: string[]) => paths.map((p) => `${type} ${p}`);
    const d = '.singularity.d';
    assert.deepEqual(
      entries.map((e) => `${e.type} ${e.path}`),
      [
        ...of('directory', d, `${d}/libs`, `${d}/actions`, `${d}/env`),
        ...of('directory', 'dev', 'proc', 'root', 'var', 'var/tmp', 'tmp', 'etc', 'sys', 'home'),
        ...of('file', 'etc/hosts', 'etc/resolv.conf'),
        ...of('file', ...['exec', 'run', 'shell', 'start', 'test'].map((a) => `${d}/actions/${a}`)),
        ...of(
          'file',
          ...['01-base', '10-docker2singularity', '90-environment', '91-environment'].map(
            (s) => `${d}/env/${s}.sh`,
          ),
        ),
        ...of('file', `${d}/env/95-apps.sh`, `${d}/env/99-base.sh`, `${d}/env/99-runtimevars.sh`),
        ...of('file', `${d}/runscript`, `${d}/startscript`, `${d}/labels.json`),
        ...of('symlink', 'singularity', '.run', '.exec', '.shell', '.test', 'environment'),
      ],
    );
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = path.posix.dirname(e.path);
      assert.ok(parent === '.' || seen.has(parent), `${e.path} comes before its parent`);
      seen.add(e.path);
    }
  });

  it('marks image-owned paths only-if-absent and always writes the scripts it owns', () => {
    const entries = new Map(apptainerFiles(imageConfig({})).map((e) => [e.path, e]));
    const expect = (p: string, mode: number, onlyIfAbsent: boolean, target?: string) => {
      const e = entries.get(p)!;
      assert.deepEqual(
        { mode: e.mode, onlyIfAbsent: e.onlyIfAbsent, target: e.target },
        { mode, onlyIfAbsent, target },
        p,
      );
    };
    for (const dir of ['.singularity.d', '.singularity.d/env', 'dev', 'var', 'var/tmp', 'tmp', 'home']) {
      expect(dir, 0o755, true);
    }
    expect('etc/hosts', 0o644, true);
    expect('etc/resolv.conf', 0o644, true);
    assert.equal(entries.get('etc/hosts')!.content!.length, 0);
    for (const f of [
      'actions/run',
      'env/10-docker2singularity.sh',
      'env/99-base.sh',
      'runscript',
      'startscript',
    ]) {
      expect(`.singularity.d/${f}`, 0o755, false);
    }
    expect('.singularity.d/labels.json', 0o644, false);
    expect('singularity', 0o777, true, '.singularity.d/runscript');
    expect('.exec', 0o777, true, '.singularity.d/actions/exec');
    expect('environment', 0o777, true, '.singularity.d/env/90-environment.sh');
  });

  it('writes scripts both dash and bash parse', (t) => {
    const { root } = flatRoot(t, {
      Entrypoint: [P, ...TRICKY],
      Cmd: TRICKY,
      Env: TRICKY.map((v, i) => `V${i}=${v}`),
    });
    const scripts = apptainerFiles(imageConfig({})).filter((e) =>
      e.content?.toString().startsWith('#!/bin/sh\n'),
    );
    assert.equal(scripts.length, 14);
    for (const shell of SHELLS) {
      for (const s of scripts) {
        const r = run(shell, ['-n', path.join(root, s.path)]);
        assert.equal(r.status, 0, `${shell} -n ${s.path}: ${r.stderr}`);
      }
    }
  });

  it('is deterministic: equal configs give identical bytes, whatever the label order', () => {
    const a = apptainerFiles(imageConfig({ Env: ['A=1'], Cmd: ['x'], Labels: { b: '2', a: '1' } }));
    const b = apptainerFiles(imageConfig({ Env: ['A=1'], Cmd: ['x'], Labels: { a: '1', b: '2' } }));
    assert.deepEqual(a, b);
  });

  it('writes labels.json as tab-indented JSON with sorted keys, {} without labels', () => {
    const labels = (config: ImageConfig['config']) =>
      text(apptainerFiles(imageConfig(config)), '.singularity.d/labels.json');
    assert.equal(
      labels({ Labels: { 'org.opencontainers.image.title': 'x <&> "y"', a: '' } }),
      '{\n\t"a": "",\n\t"org.opencontainers.image.title": "x <&> \\"y\\""\n}',
    );
    assert.equal(labels({ Labels: JSON.parse('{"__proto__": "kept"}') }), '{\n\t"__proto__": "kept"\n}');
    assert.equal(labels({}), '{}');
    assert.equal(labels({ Labels: null }), '{}');
    assert.equal(labels(null), '{}');
    assert.equal(labels({ Labels: {} }), '{}');
  });

  it('refuses a config whose Env, Entrypoint, Cmd or Labels have the wrong shape', () => {
    const bad = [
      { Env: 'A=1' },
      { Cmd: [1] },
      { Entrypoint: ['a\0b'] },
      { Labels: ['x'] },
      { Labels: { a: 1 } },
    ] as unknown as Config[];
    for (const config of bad) {
      assert.throws(
        () => apptainerFiles(imageConfig(config)),
        (err) => isBargeError(err, 'IMAGE_INVALID'),
      );
    }
  });
});

describe('runscript', () => {
  const cases: { name: string; config: Config; args: string[]; out: string[]; modes?: string[] }[] = [
    {
      name: 'Entrypoint then Cmd',
      config: { Entrypoint: [P, 'E'], Cmd: ['C1', 'C 2'] },
      args: [],
      out: ['E', 'C1', 'C 2'],
    },
    {
      name: 'arguments replace Cmd, Entrypoint stays',
      config: { Entrypoint: [P, 'E'], Cmd: ['C1', 'C 2'] },
      args: ['x', 'y z'],
      out: ['E', 'x', 'y z'],
    },
    { name: 'Entrypoint only', config: { Entrypoint: [P, 'E'] }, args: [], out: ['E'] },
    {
      name: 'Entrypoint only, with arguments',
      config: { Entrypoint: [P, 'E'], Cmd: null },
      args: ['a b'],
      out: ['E', 'a b'],
    },
    { name: 'Cmd only', config: { Cmd: [P, 'C1'] }, args: [], out: ['C1'] },
    {
      name: 'Cmd only, replaced by arguments',
      config: { Entrypoint: [], Cmd: [P, 'C1'] },
      args: [P, 'z'],
      out: ['z'],
    },
    { name: 'neither, with arguments', config: {}, args: [P, 'a'], out: ['a'] },
    {
      name: 'special characters in Entrypoint and Cmd, kept verbatim',
      config: { Entrypoint: [P, ...TRICKY], Cmd: TRICKY },
      args: [],
      out: [...TRICKY, ...TRICKY],
    },
    {
      name: 'special characters in arguments, kept verbatim without eval',
      config: { Entrypoint: [P], Cmd: ['unused'] },
      args: TRICKY,
      out: TRICKY,
      modes: ['SINGULARITY_NO_EVAL'],
    },
    {
      // Apptainer's default: arguments are pasted into an eval, so the shell expands them.
      name: 'arguments expanded by the eval, as Apptainer does',
      config: { Entrypoint: [P] },
      args: ['$X', 'a b'],
      out: ['expanded', 'a b'],
      modes: ['eval'],
    },
  ];
  for (const c of cases) {
    it(c.name, (t) => {
      const { root, swap } = flatRoot(t, c.config);
      const script = path.join(root, '.singularity.d/runscript');
      for (const shell of SHELLS) {
        for (const m of MODES.filter((m) => !c.modes || c.modes.includes(m.mode))) {
          const r = run(shell, [script, ...swap(c.args)], { ...m.env, HOME: '/home/test', X: 'expanded' });
          assert.equal(r.stderr, '', `${shell} ${m.mode}`);
          assert.equal(r.stdout, printed(c.out), `${shell} ${m.mode}`);
        }
      }
    });
  }

  it('runs as an executable through its shebang', (t) => {
    const { root } = flatRoot(t, { Entrypoint: [P, 'E'], Cmd: ['C'] });
    assert.equal(run(path.join(root, '.singularity.d/runscript'), ['x']).stdout, printed(['E', 'x']));
  });

  it('refuses to run nothing when the image has neither Entrypoint nor Cmd', (t) => {
    const { root } = flatRoot(t, { Entrypoint: null });
    for (const shell of SHELLS) {
      for (const m of MODES) {
        const r = run(shell, [path.join(root, '.singularity.d/runscript')], m.env);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /neither Entrypoint nor Cmd/);
      }
    }
  });

  it("keeps Apptainer's OCI_ENTRYPOINT/OCI_CMD lines and the exact eval line its runtime looks for", () => {
    const lines = text(
      apptainerFiles(imageConfig({ Entrypoint: ['/bin/echo', "it's $x"] })),
      '.singularity.d/runscript',
    )!.split('\n');
    assert.equal(lines[0], '#!/bin/sh');
    assert.equal(lines[1], `OCI_ENTRYPOINT='"/bin/echo" "it'"'"'s \\$x"'`);
    assert.equal(lines[2], `OCI_CMD=''`);
    assert.equal(lines.filter((l) => l === 'eval "set ${SINGULARITY_OCI_RUN}"').length, 1);
  });
});

describe('env/10-docker2singularity.sh', () => {
  const ENV = [
    'A=a"b',
    'B=$HOME',
    'C=`echo injected`',
    'D=back\\slash\\',
    'E=x=y=z',
    'F=',
    'G',
    'H=}${',
    "I=it's",
    'J=line1\nline2',
    'K=$(echo injected)',
    'L=image',
    'PATH=/image/bin:/usr/bin:/bin',
    '1BAD=x',
    'BAD-NAME=x',
    '=x',
    'X;echo injected>&2;Y=1',
  ];
  // name, value with no host variable, host value, value with it.
  const rows: [string, string, string, string][] = [
    ['A', 'a"b', 'host', 'host'],
    ['B', '$HOME', 'host', 'host'],
    ['C', '`echo injected`', 'host', 'host'],
    ['D', 'back\\slash\\', 'host', 'host'],
    ['E', 'x=y=z', 'host', 'host'],
    ['F', '', 'host', 'host'],
    ['G', '', 'host', 'host'],
    ['H', '}${', 'host', 'host'],
    ['I', "it's", 'host', 'host'],
    ['J', 'line1\nline2', 'host', 'host'],
    ['K', '$(echo injected)', 'host', 'host'],
    // `${L:-...}`: an empty host value counts as unset, as in Apptainer.
    ['L', 'image', '', 'image'],
    ['PATH', '/image/bin:/usr/bin:/bin', '/host/bin:/usr/bin:/bin', '/image/bin:/usr/bin:/bin'],
  ];

  /** Sources the script in `shell` and returns the environment it exports. */
  function sourced(root: string, shell: string, host: Record<string, string>): Map<string, string> {
    const r = run(
      shell,
      ['-c', '. ./10-docker2singularity.sh && exec /usr/bin/env -0'],
      host,
      path.join(root, '.singularity.d/env'),
    );
    assert.equal(r.stderr, '', shell);
    assert.equal(r.status, 0, shell);
    return new Map(
      r.stdout
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  }

  it('exports every valid name with its exact value, skipping invalid names', (t) => {
    const { root } = flatRoot(t, { Env: ENV });
    for (const shell of SHELLS) {
      const env = sourced(root, shell, { HOME: '/home/test' });
      for (const [name, value] of rows) assert.equal(env.get(name), value, `${shell} ${name}`);
      assert.ok(![...env.keys()].some((k) => /BAD|^X|^Y$|^$/.test(k)), `${shell}: ${[...env.keys()]}`);
    }
  });

  it('lets a host value win, except for PATH which the image sets', (t) => {
    const { root } = flatRoot(t, { Env: ENV });
    for (const shell of SHELLS) {
      const host = Object.fromEntries(rows.map(([name, , value]) => [name, value]));
      const env = sourced(root, shell, host);
      for (const [name, , , value] of rows) assert.equal(env.get(name), value, `${shell} ${name}`);
    }
  });

  it('writes Apptainer\'s lines: single escaping, ${NAME:-"VALUE"}, PATH assigned', () => {
    const script = text(
      apptainerFiles(imageConfig({ Env: ENV })),
      '.singularity.d/env/10-docker2singularity.sh',
    )!;
    const lines = script.split('\n');
    assert.equal(lines[0], '#!/bin/sh');
    assert.ok(lines.includes('export A="${A:-"a\\"b"}"'));
    assert.ok(lines.includes('export B="${B:-"\\$HOME"}"'));
    assert.ok(lines.includes('export D="${D:-"back\\\\slash\\\\"}"'));
    assert.ok(lines.includes('export F="${F:-""}"'));
    assert.ok(lines.includes('export G="${G:-}"'));
    assert.ok(lines.includes('export PATH="/image/bin:/usr/bin:/bin"'));
    assert.ok(!/BAD|injected>&2|^export =/m.test(script));
  });
});

describe('fixed scripts', () => {
  const source = (root: string, file: string, shell: string, env: Record<string, string>, show: string) =>
    run(shell, ['-c', `. ./${file}; ${show}`], env, path.join(root, '.singularity.d/env'));

  it('99-base.sh appends the library dir Apptainer binds and sets the prompt', (t) => {
    const { root } = flatRoot(t, {});
    for (const shell of SHELLS) {
      const show = 'printf "%s|%s" "$LD_LIBRARY_PATH" "$PS1"';
      assert.equal(source(root, '99-base.sh', shell, {}, show).stdout, '/.singularity.d/libs|Singularity> ');
      assert.equal(
        source(root, '99-base.sh', shell, { LD_LIBRARY_PATH: '/x' }, show).stdout,
        '/x:/.singularity.d/libs|Singularity> ',
      );
    }
  });

  it('99-runtimevars.sh applies the user PATH variables and removes them', (t) => {
    const { root } = flatRoot(t, {});
    const show = 'printf "%s|%s" "$PATH" "${SING_USER_DEFINED_PREPEND_PATH-gone}"';
    const cases: [Record<string, string>, string][] = [
      [{}, '/usr/bin:/bin'],
      [{ SING_USER_DEFINED_PREPEND_PATH: '/pre' }, '/pre:/usr/bin:/bin'],
      [{ SING_USER_DEFINED_APPEND_PATH: '/app' }, '/usr/bin:/bin:/app'],
      [{ SING_USER_DEFINED_PREPEND_PATH: '/pre', SING_USER_DEFINED_PATH: '/only' }, '/only'],
    ];
    for (const shell of SHELLS) {
      for (const [env, path] of cases) {
        assert.equal(
          source(root, '99-runtimevars.sh', shell, env, show).stdout,
          `${path}|gone`,
          JSON.stringify(env),
        );
      }
    }
  });

  it('95-apps.sh does nothing without an app and fails for an app that is not there', (t) => {
    const { root } = flatRoot(t, {});
    for (const shell of SHELLS) {
      assert.equal(source(root, '95-apps.sh', shell, {}, 'printf "%s" "$PATH"').stdout, '/usr/bin:/bin');
      const r = source(root, '95-apps.sh', shell, { SINGULARITY_APPNAME: 'no-such-app' }, 'echo reached');
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /no-such-app/);
    }
  });

  it('actions/exec runs its arguments', (t) => {
    const { root, swap } = flatRoot(t, {});
    for (const shell of SHELLS) {
      const r = run(shell, [path.join(root, '.singularity.d/actions/exec'), ...swap([P, 'a b'])]);
      assert.equal(r.stdout, printed(['a b']));
    }
  });

  it('actions/run falls back to /bin/sh when there is no /.singularity.d/runscript', {
    skip: existsSync('/.singularity.d'),
  }, (t) => {
    const { root } = flatRoot(t, {});
    const r = run('/bin/sh', [path.join(root, '.singularity.d/actions/run'), '-c', 'echo fallback']);
    assert.equal(r.stdout, 'fallback\n');
    assert.match(r.stderr, /No runscript/);
  });

  it('leaves empty etc/hosts and etc/resolv.conf, and valid symlinks', (t) => {
    const { root } = flatRoot(t, {});
    assert.equal(readFileSync(path.join(root, 'etc/hosts'), 'utf8'), '');
    assert.match(readFileSync(path.join(root, 'singularity'), 'utf8'), /^#!\/bin\/sh\n/);
    assert.match(readFileSync(path.join(root, 'environment'), 'utf8'), /^#!\/bin\/sh\n/);
  });
});
