import { startServer } from '../server/index.js';
import { type CliIo, dataDir, parse } from './cli-context.js';

/** `barge serve [--listen 127.0.0.1:8080]`: every repository at /cvmfs/<fqrn>/. Runs until SIGINT/SIGTERM. */
export async function serveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    { data: { type: 'string' }, listen: { type: 'string' } },
    {
      min: 0,
      max: 0,
      usage: 'barge serve [--listen 127.0.0.1:8080] [--data DIR]',
    },
  );
  const server = await startServer({
    dataDir: dataDir(values.data),
    listen: values.listen ?? '127.0.0.1:8080',
  });
  io.out(`serving ${dataDir(values.data)}/repos at ${server.url}/cvmfs/`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
