import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  parseManifest,
  signManifest,
  verifyTrustChain,
} from '../manifest/index.js';
import { compressSync, decompressSync, hashBytes, objectPath } from '../object/index.js';
import { FIXTURE_DIR, FIXTURE_FQRN, FIXTURE_SERVED, fixtureFile } from '../testing/fixture.js';
import { HistoryDb, ReflogDb } from './index.js';

const CHECKER = path.resolve(FIXTURE_DIR, '..', '..', 'tools', 'cvmfs-conformance.py');
const canCheck =
  spawnSync('python3', ['--version']).status === 0 &&
  spawnSync('openssl', ['version']).status === 0 &&
  spawnSync('python3', [CHECKER, '--help']).status === 0;

/** The fixture files are read-only (as served); the copy must accept new objects. */
async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(p);
    else await chmod(p, 0o644);
  }
}

async function putObject(served: string, key: string, bytes: Buffer): Promise<void> {
  await mkdir(path.dirname(path.join(served, key)), { recursive: true });
  await writeFile(path.join(served, key), bytes);
}

describe('re-signing the fixture with barge', () => {
  it('gives a repository the independent conformance checker accepts with --strict', {
    skip: !canCheck,
    timeout: 120_000,
  }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'barge-resign-'));
    try {
      const served = path.join(dir, 'served');
      await cp(FIXTURE_SERVED, served, { recursive: true });
      await makeWritable(served);
      const keys = await generateRepositoryKeys(FIXTURE_FQRN);
      const now = new Date();
      const old = parseManifest(fixtureFile('.cvmfspublished'));

      const certObject = compressSync(Buffer.from(keys.certificatePem));
      const x = hashBytes(certObject, 'sha1');
      await putObject(served, objectPath(x, 'X'), certObject);

      // History: the fixture's tags plus one of ours, chained to the old history object.
      const history = HistoryDb.open(
        decompressSync(fixtureFile(objectPath(old.history as string, 'H')), 'H'),
      );
      const trunk = history.getTag('trunk');
      assert.ok(trunk);
      history.setTag({ ...trunk, name: 'resigned', description: 'signed by barge' });
      history.setPreviousRevision(old.history as string);
      const historyObject = compressSync(history.serialize());
      history.close();
      const h = hashBytes(historyObject, 'sha1');
      await putObject(served, objectPath(h, 'H'), historyObject);

      // Reflog: what cvmfs adds at every signing.
      const reflog = ReflogDb.open(fixtureFile('.cvmfsreflog'));
      const t = Math.floor(now.getTime() / 1000);
      reflog.add(old.rootHash, 'catalog', t);
      reflog.add(x, 'certificate', t);
      reflog.add(h, 'history', t);
      reflog.add(old.metainfo as string, 'metainfo', t);
      const reflogBytes = reflog.serialize();
      reflog.close();
      await writeFile(path.join(served, '.cvmfsreflog'), reflogBytes);

      const manifestBytes = signManifest(
        {
          ...old,
          certificate: x,
          history: h,
          reflog: hashBytes(reflogBytes, 'sha1'),
          timestamp: old.timestamp + 1,
        },
        keys.certificateKeyPem,
      );
      await writeFile(path.join(served, '.cvmfspublished'), manifestBytes);
      const whitelistBytes = createWhitelist(
        {
          fqrn: FIXTURE_FQRN,
          fingerprints: [certificateFingerprint(keys.certificatePem)],
          created: now,
          expires: new Date(now.getTime() + 30 * 86_400_000),
        },
        keys.masterKeyPem,
      );
      await writeFile(path.join(served, '.cvmfswhitelist'), whitelistBytes);
      const pub = path.join(dir, `${FIXTURE_FQRN}.pub`);
      await writeFile(pub, keys.publicKeyPem);

      assert.equal(
        verifyTrustChain({
          manifestBytes,
          whitelistBytes,
          certificateObject: certObject,
          publicKeysPem: [keys.publicKeyPem],
          fqrn: FIXTURE_FQRN,
          now,
        }).certificate,
        x,
      );
      const r = spawnSync('python3', [CHECKER, served, '--key', pub, '--strict'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^conformant/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
