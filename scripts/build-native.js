#!/usr/bin/env node
// Builds the native addon (native/posix.c → build/Release/barge_posix.node) when it is missing
// or older than its sources, so `npm run build` works on a fresh checkout and costs nothing on
// later builds (a full node-gyp rebuild takes about 1.5 s). `--force` always rebuilds.
//
// node-gyp is not a dependency of barge: npm bundles it and, under `npm run`, exports its path
// as npm_config_node_gyp (and puts a node-gyp shim on PATH); nodedir comes from npm's config,
// so the headers are the local ones and no download happens.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'build', 'Release', 'barge_posix.node');
const sources = ['binding.gyp', 'native/posix.c', 'native/deflate.c', 'native/deflate.h'].map((f) =>
  path.join(root, f),
);

function upToDate() {
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

if (!process.argv.includes('--force') && upToDate()) process.exit(0);

// Run directly (`node scripts/build-native.js`), go through npm anyway: it alone knows where its
// node-gyp is and which nodedir to use; without nodedir node-gyp would download headers.
const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['npm', ['run', 'build:native']];
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
if (result.error || result.status !== 0) {
  const why = result.error ? result.error.message : `exit status ${result.status}`;
  console.error(
    `building the native addon failed (${why}).\n` +
      'It needs a C compiler, make, python3 and the Node headers (npm config nodedir), and npm ' +
      'for its bundled node-gyp. Retry with `npm run build:native` to see the compiler output.',
  );
  process.exit(1);
}
