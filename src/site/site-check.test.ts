import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runBarge } from '../testing/run-barge.js';
import type { FindingStatus } from './finding.js';
import { validateJsonSchema } from './json-schema-subset.js';
import { type BaselineCase, checkSite, type SiteReport } from './site-check.js';
import { capturedHost } from './site-host.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(HERE, '..', '..', 'src', 'site', 'fixtures');
const SCHEMA = JSON.parse(
  readFileSync(path.resolve(HERE, '..', '..', 'docs', 'site-check.schema.json'), 'utf8'),
);

interface NodeCase {
  node: string;
  case: BaselineCase;
  cvmfsImages: boolean;
  runtime: string | null;
  findings: Record<string, FindingStatus>;
  /** Finding id -> text its fix must hold. */
  fixes?: Record<string, string>;
}

const CASES: NodeCase[] = [
  {
    node: 'el7.5-no-boot-option',
    case: 'unsupported',
    cvmfsImages: false,
    runtime: null,
    findings: {
      distribution: 'warn',
      'userns.max-user-namespaces': 'ok',
      'userns.el7-boot-option': 'fail',
      'userns.create': 'fail',
      'userns.max-net-namespaces': 'na',
      'overlay.unprivileged': 'na',
      'apptainer.cvmfs': 'na',
      'apptainer.setuid': 'fail',
      'cvmfs.mounts': 'ok',
    },
    fixes: { 'userns.el7-boot-option': 'namespace.unpriv_enable=1' },
  },
  {
    node: 'el7.9-sysctl',
    case: 'userns',
    cvmfsImages: true,
    runtime: 'apptainer-cvmfs',
    findings: {
      'userns.max-user-namespaces': 'ok',
      'userns.el7-boot-option': 'na',
      'userns.create': 'ok',
      'userns.max-net-namespaces': 'ok',
      'overlay.unprivileged': 'warn',
      'apptainer.cvmfs': 'ok',
      'apptainer.local': 'na',
      'apptainer.setuid': 'na',
      'cvmfs.cache': 'ok',
    },
    fixes: { 'overlay.unprivileged': 'fuse-overlayfs' },
  },
  {
    node: 'el7.9-no-sysctl',
    case: 'unsupported',
    cvmfsImages: false,
    runtime: null,
    findings: {
      'userns.max-user-namespaces': 'fail',
      'userns.create': 'fail',
      'apptainer.cvmfs': 'na',
      'apptainer.setuid': 'fail',
    },
    fixes: { 'userns.max-user-namespaces': "echo 'user.max_user_namespaces = 15000' > /etc/sysctl.d/" },
  },
  {
    node: 'el8',
    case: 'userns',
    cvmfsImages: true,
    runtime: 'apptainer-cvmfs',
    findings: {
      'userns.max-user-namespaces': 'ok',
      'userns.create': 'ok',
      'userns.max-net-namespaces': 'warn',
      'overlay.unprivileged': 'ok',
      'cvmfs.proxy': 'warn',
      'cvmfs.cache': 'fail',
    },
    fixes: { 'userns.max-net-namespaces': 'user.max_net_namespaces = 0', 'cvmfs.proxy': 'CVMFS_HTTP_PROXY=' },
  },
  {
    node: 'el9',
    case: 'userns',
    cvmfsImages: true,
    runtime: 'apptainer-cvmfs',
    findings: {
      kernel: 'ok',
      distribution: 'ok',
      'userns.create': 'ok',
      'overlay.unprivileged': 'ok',
      'fuse.device': 'ok',
      'fuse.fusermount3': 'ok',
      'apptainer.cvmfs': 'ok',
      'apptainer.local': 'ok',
      'apptainer.setuid': 'ok',
      'apptainer.underlay': 'na',
      'cvmfs.client': 'ok',
      'cvmfs.proxy': 'ok',
    },
  },
  {
    node: 'debian10-userns-clone-0',
    case: 'unsupported',
    cvmfsImages: false,
    runtime: null,
    findings: {
      'userns.max-user-namespaces': 'ok',
      'userns.unprivileged-userns-clone': 'fail',
      'userns.create': 'fail',
      'userns.el7-boot-option': 'na',
    },
    fixes: { 'userns.unprivileged-userns-clone': 'kernel.unprivileged_userns_clone = 1' },
  },
  {
    node: 'el9-setuid-underlay-off',
    case: 'unsupported',
    cvmfsImages: false,
    runtime: null,
    findings: {
      'userns.max-user-namespaces': 'fail',
      'apptainer.local': 'ok',
      'apptainer.setuid': 'ok',
      'apptainer.underlay': 'fail',
    },
    fixes: { 'apptainer.underlay': '"enable underlay = yes" in /etc/apptainer/apptainer.conf' },
  },
  {
    node: 'el7.9-setuid-underlay',
    case: 'setuid-underlay',
    cvmfsImages: true,
    runtime: 'apptainer-setuid',
    findings: {
      'userns.max-user-namespaces': 'fail',
      'apptainer.local': 'ok',
      'apptainer.setuid': 'ok',
      'apptainer.underlay': 'ok',
    },
  },
];

function check(node: string): SiteReport {
  return checkSite(capturedHost(path.join(FIXTURES, node)));
}

describe('barge site check on captured nodes', () => {
  for (const c of CASES) {
    it(`puts ${c.node} in the ${c.case} case with the expected findings`, () => {
      const report = check(c.node);
      const got = Object.fromEntries(report.findings.map((f) => [f.id, f.status]));
      const want = Object.fromEntries(Object.keys(c.findings).map((id) => [id, got[id]]));
      assert.deepEqual(want, c.findings);
      assert.deepEqual(
        [report.verdict.case, report.verdict.cvmfsImages, report.verdict.runtime],
        [c.case, c.cvmfsImages, c.runtime],
      );
      for (const [id, text] of Object.entries(c.fixes ?? {})) {
        assert.ok(report.findings.find((f) => f.id === id)?.fix?.includes(text), `${id} fix names ${text}`);
      }
      assert.deepEqual(validateJsonSchema(SCHEMA, JSON.parse(JSON.stringify(report))), []);
    });
  }

  it('gives every warn and fail a fix, and ok and na none, in one order of ids on every node', () => {
    const ids = check('el9').findings.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of CASES) {
      const report = check(c.node);
      assert.deepEqual(
        report.findings.map((f) => f.id),
        ids,
      );
      for (const f of report.findings) {
        assert.equal(f.fix !== null, f.status === 'warn' || f.status === 'fail', `${c.node} ${f.id}`);
      }
    }
  });

  it('validates against the published schema, which refuses broken reports', () => {
    const report = JSON.parse(JSON.stringify(check('el8')));
    assert.deepEqual(validateJsonSchema(SCHEMA, report), []);
    const broken = [
      { ...report, verdict: undefined },
      { ...report, extra: 1 },
      { ...report, verdict: { ...report.verdict, case: 'maybe' } },
      { ...report, findings: [{ ...report.findings[0], status: 'error' }] },
      { ...report, findings: [{ ...report.findings[0], fix: 3 }] },
      { ...report, node: { ...report.node, uid: 1.5 } },
      { ...report, format: 'barge-site-check/2' },
    ];
    for (const b of broken)
      assert.notDeepEqual(validateJsonSchema(SCHEMA, JSON.parse(JSON.stringify(b))), []);
  });

  it('prints --json from the CLI for a captured node and exits 3 when it is unsupported', () => {
    const ok = runBarge(['site', 'check', '--json', '--root', path.join(FIXTURES, 'el9')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(validateJsonSchema(SCHEMA, JSON.parse(ok.stdout)), []);
    const bad = runBarge(['site', 'check', '--root', path.join(FIXTURES, 'debian10-userns-clone-0')]);
    assert.equal(bad.status, 3);
    assert.match(bad.stdout, /FAIL userns\.unprivileged-userns-clone +kernel\.unprivileged_userns_clone = 0/);
    assert.match(bad.stdout, /fix: echo 'kernel\.unprivileged_userns_clone = 1'/);
    assert.match(bad.stdout, /^verdict +unsupported: /m);
    assert.equal(runBarge(['site', 'frob']).status, 2);
    assert.match(runBarge(['site', 'check', '--root', '/nonexistent/node']).stderr, /SOURCE_NOT_FOUND/);
  });
});
