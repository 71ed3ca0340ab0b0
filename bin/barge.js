#!/usr/bin/env node
// Deflate runs on libuv's thread pool, and so does file I/O: a few more threads than the default
// four keep reads flowing while every core compresses. Must be set before the pool starts.
process.env.UV_THREADPOOL_SIZE ??= '6';
const { main } = await import('../dist/cli/index.js');
const code = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
