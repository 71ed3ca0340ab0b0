#!/usr/bin/env node
// The CLI: everything else lives in dist/ (npm run build). Commands load on use.
const { main } = await import('../dist/cli/index.js');
const code = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
