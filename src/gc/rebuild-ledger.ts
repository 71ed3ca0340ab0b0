/** Placeholder replaced below. */
export async function rebuildLedger(_o: { dataDir: string; fqrn: string }): Promise<{
  revisions: number;
  catalogs: number;
  objects: number;
  orphans: number;
  seconds: number;
}> {
  throw new Error('not yet');
}
