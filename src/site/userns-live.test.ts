import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runBarge } from '../testing/run-barge.js';
import { validateJsonSchema } from './json-schema-subset.js';
import { liveHost } from './site-host.js';
import { attemptUserNamespace } from './userns-probe.js';

const SCHEMA_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docs',
  'site-check.schema.json',
);

function sysctl(name: string): number | undefined {
  try {
    return Number(readFileSync(`/proc/sys/${name}`, 'utf8'));
  } catch {
    return undefined;
  }
}

describe('the user namespace probe on this machine', () => {
  it('creates a user namespace exactly when the sysctls allow one', () => {
    const attempt = attemptUserNamespace(liveHost());
    assert.notEqual(attempt.result, 'not-tried', attempt.seen);
    const allowed =
      (sysctl('user/max_user_namespaces') ?? 0) > 0 &&
      sysctl('kernel/unprivileged_userns_clone') !== 0 &&
      sysctl('kernel/apparmor_restrict_unprivileged_userns') !== 1;
    assert.equal(attempt.result, allowed ? 'created' : 'refused', attempt.seen);
    if (process.getuid?.() === 0) assert.match(attempt.seen, /nobody \(uid 65534/);
  });

  it('checks this machine with `barge site check --json`, in the case its probe found', () => {
    const r = runBarge(['site', 'check', '--json']);
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(validateJsonSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')), report), []);
    const create = report.findings.find((f: { id: string }) => f.id === 'userns.create');
    assert.equal(report.root, '/');
    if (create.status === 'ok') assert.equal(report.verdict.case, 'userns');
    if (create.status === 'fail') assert.notEqual(report.verdict.case, 'userns');
  });
});
