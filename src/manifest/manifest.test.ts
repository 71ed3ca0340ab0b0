import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBargeError } from '../error/index.js';
import { fixtureFile } from '../testing/fixture.js';
import { type Manifest, parseManifest, ROOT_PATH_MD5, serializeManifest } from './index.js';

const C = '6534cba72f52d203101adfd4a2699d2b81fed496';
const X = 'eb3e5a59177001e57310c33168c32bfb4d917fa4';

function body(lines: string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1');
}

describe('parsing manifests', () => {
  it('reads every letter of the fixture manifest', () => {
    const m = parseManifest(fixtureFile('.cvmfspublished'));
    assert.deepEqual(m, {
      rootHash: C,
      rootSize: 94208,
      rootPathHash: ROOT_PATH_MD5,
      ttl: 240,
      revision: 3,
      garbageCollectable: true,
      alternativePaths: false,
      fqrn: 'reference.cvmfs.test',
      certificate: X,
      history: '059f8173f1a60074fa458e9dae2c5759c28d3053',
      timestamp: 1795594913,
      metainfo: '85e4f386da0d5d77c7f66cf2f58e10951f24b653',
      reflog: '419dd892706537a28c95152bf790fff4169ed410',
      unknownKeys: {},
    } satisfies Manifest);
  });

  it('writes the fixture manifest back to the exact bytes cvmfs signed', () => {
    const raw = fixtureFile('.cvmfspublished');
    const signedBody = raw.subarray(0, raw.indexOf('\n--\n') + 1);
    assert.deepEqual(serializeManifest(parseManifest(raw)), signedBody);
  });

  it('reads lines the way ParseKeyvalMem does', () => {
    const m = parseManifest(
      Buffer.concat([
        body([`C${C}`, 'Rjunk-is-kept', '', 'D240', 'S1', 'S7', `X${X}`, 'Qodd', 'Zone', 'Ztwo', 'N']),
        // everything after the "--" line is signature, even if it looks like letters
        Buffer.from('--\nS99\nT5', 'latin1'),
      ]),
    );
    assert.equal(m.revision, 7, 'a later duplicate wins');
    assert.equal(m.rootPathHash, 'junk-is-kept', 'R is kept as written; the trust chain refuses it later');
    assert.equal(m.fqrn, '', 'a bare letter is an empty value');
    assert.equal(m.timestamp, 0);
    assert.equal(m.rootSize, 0);
    assert.equal(m.garbageCollectable, false);
    assert.deepEqual(m.unknownKeys, { Q: 'odd', Z: 'one|two' });
  });

  it('ignores a last line that has no newline', () => {
    const m = parseManifest(
      Buffer.concat([body([`C${C}`, `R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`]), Buffer.from('S9')]),
    );
    assert.equal(m.revision, 1);
  });

  const refused: [string, string[]][] = [
    ['a manifest without C', [`R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`]],
    ['a manifest without R', [`C${C}`, 'D1', 'S1', `X${X}`]],
    ['a manifest without D', [`C${C}`, `R${ROOT_PATH_MD5}`, 'S1', `X${X}`]],
    ['a manifest without S', [`C${C}`, `R${ROOT_PATH_MD5}`, 'D1', `X${X}`]],
    ['a manifest without X', [`C${C}`, `R${ROOT_PATH_MD5}`, 'D1', 'S1']],
    ['an uppercase hash', [`C${C.toUpperCase()}`, `R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`]],
    ['a hash with a suffix', [`C${C}C`, `R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`]],
    ['a CR at the end of a line', [`C${C}\r`, `R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`]],
    ['a non-decimal revision', [`C${C}`, `R${ROOT_PATH_MD5}`, 'D1', 'S-1', `X${X}`]],
    ['a malformed history hash', [`C${C}`, `R${ROOT_PATH_MD5}`, 'D1', 'S1', `X${X}`, 'Hnothex']],
  ];
  for (const [what, lines] of refused) {
    it(`refuses ${what} as MANIFEST_INVALID`, () => {
      assert.throws(
        () => parseManifest(body(lines)),
        (err) => isBargeError(err, 'MANIFEST_INVALID'),
      );
    });
  }
});

describe('serializing manifests', () => {
  const base: Manifest = {
    rootHash: C,
    rootSize: 1,
    rootPathHash: ROOT_PATH_MD5,
    ttl: 240,
    revision: 2,
    garbageCollectable: false,
    alternativePaths: false,
    fqrn: 'a.b',
    certificate: X,
    timestamp: 0,
    unknownKeys: { Q: 'dropped' },
  };

  it('writes C B R D S G A first and leaves out unset letters, T=0 and unknown letters', () => {
    assert.equal(
      serializeManifest({ ...base, fqrn: '' }).toString(),
      `C${C}\nB1\nR${ROOT_PATH_MD5}\nD240\nS2\nGno\nAno\nX${X}\n`,
    );
  });

  it('writes L N X H T M Y in cvmfs order when set', () => {
    const h = 'a'.repeat(40);
    const text = serializeManifest({
      ...base,
      reflog: h,
      metainfo: h,
      history: h,
      microCatalog: h,
      timestamp: 5,
      garbageCollectable: true,
    }).toString();
    assert.deepEqual(
      text.split('\n').map((l) => l[0]),
      ['C', 'B', 'R', 'D', 'S', 'G', 'A', 'L', 'N', 'X', 'H', 'T', 'M', 'Y', undefined],
    );
    assert.match(text, /\nGyes\n/);
  });

  const broken: [string, Partial<Manifest>][] = [
    ['a newline in the name', { fqrn: 'a.b\nS99' }],
    ['a non-ASCII name', { fqrn: 'ä.b' }],
    ['a fractional revision', { revision: 1.5 }],
    ['a negative size', { rootSize: -1 }],
    ['a root path that is not MD5 hex', { rootPathHash: 'x' }],
    ['a hash with a suffix', { certificate: `${X}X` }],
  ];
  for (const [what, patch] of broken) {
    it(`refuses to write ${what}`, () => {
      assert.throws(
        () => serializeManifest({ ...base, ...patch }),
        (err) => isBargeError(err, 'MANIFEST_INVALID'),
      );
    });
  }
});
