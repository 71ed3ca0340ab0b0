/**
 * The command line: one command per use case, each a thin shell over the domain modules. Commands
 * write through a CliIo and return an exit status; only bin/barge.js touches the process.
 */

export type { CliIo } from './cli-context.js';
export { main } from './main.js';
