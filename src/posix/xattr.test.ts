import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { getXattr, listXattrs, readUserXattrs, removeXattr, setXattr, writeXattrs } from './index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-xattr-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, 'content');
  return p;
}

describe('xattrs', () => {
  it('round-trips binary values with NUL bytes, empty values and every byte value', async () => {
    const p = await file('f');
    const values = new Map<string, Buffer>([
      ['user.nul', Buffer.from([0, 1, 0, 0xff, 0])],
      ['user.empty', Buffer.alloc(0)],
      ['user.all', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
      ['user.big', Buffer.alloc(3000, 0xa5)],
    ]);
    writeXattrs(p, values);
    for (const [name, value] of values) assert.deepEqual(getXattr(p, name), value);
    assert.deepEqual(listXattrs(p).sort(), [...values.keys()].sort());
  });

  it('replaces and removes a value', async () => {
    const p = await file('f');
    setXattr(p, 'user.x', Buffer.from('one'));
    setXattr(p, 'user.x', Buffer.from('two'));
    assert.equal(getXattr(p, 'user.x').toString(), 'two');
    removeXattr(p, 'user.x');
    assert.deepEqual(listXattrs(p), []);
  });

  it('reads user xattrs sorted bytewise, not by UTF-16 code units', async () => {
    const p = await file('f');
    // JS's default sort puts U+1F600 (surrogate 0xD83D) before U+FF21; in UTF-8 (F0… > EF…) it comes after.
    const names = ['user.z', 'user.\u{1F600}', 'user.\uFF21', 'user.A', 'user.a'];
    for (const n of names) setXattr(p, n, Buffer.from(n));
    const got = readUserXattrs(p);
    assert.ok(got);
    const expected = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual([...got.keys()], expected);
    assert.deepEqual(expected, ['user.A', 'user.a', 'user.z', 'user.\uFF21', 'user.\u{1F600}']);
    assert.equal(got.get('user.A')?.toString(), 'user.A');
  });

  it('returns null when a file has no user xattrs', async () => {
    assert.equal(readUserXattrs(await file('f')), null);
  });

  it('does not follow symlinks', async () => {
    const target = await file('target');
    setXattr(target, 'user.on-target', Buffer.from('t'));
    const link = path.join(dir, 'link');
    await symlink('target', link);
    assert.equal(readUserXattrs(link), null);
    // Linux refuses user.* on symlinks: lsetxattr must not quietly write through to the target.
    assert.throws(() => setXattr(link, 'user.x', Buffer.from('v')), { code: 'EPERM', syscall: 'lsetxattr' });
    assert.deepEqual([...(readUserXattrs(target)?.keys() ?? [])], ['user.on-target']);
  });

  it('accepts a path given as bytes', async () => {
    const p = await file('bytes');
    setXattr(Buffer.from(p), 'user.b', Buffer.from('v'));
    assert.equal(getXattr(p, 'user.b').toString(), 'v');
  });
});

describe('xattr errors', () => {
  const cases: Array<{ name: string; call: (p: string) => unknown; code: string; syscall: string }> = [
    {
      name: 'a missing attribute',
      call: (p) => getXattr(p, 'user.nope'),
      code: 'ENODATA',
      syscall: 'lgetxattr',
    },
    {
      name: 'removing a missing attribute',
      call: (p) => removeXattr(p, 'user.nope'),
      code: 'ENODATA',
      syscall: 'lremovexattr',
    },
    {
      name: 'a missing file',
      call: (p) => listXattrs(`${p}.missing`),
      code: 'ENOENT',
      syscall: 'llistxattr',
    },
    {
      name: 'an unknown namespace',
      call: (p) => setXattr(p, 'bogus.x', Buffer.from('v')),
      code: 'ENOTSUP',
      syscall: 'lsetxattr',
    },
    {
      name: 'a name too long',
      call: (p) => setXattr(p, `user.${'n'.repeat(300)}`, Buffer.from('v')),
      code: 'ERANGE',
      syscall: 'lsetxattr',
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name} as ${c.code} with syscall and path, like fs errors`, async () => {
      const p = await file('f');
      assert.throws(
        () => c.call(p),
        (err: NodeJS.ErrnoException) => {
          assert.ok(err instanceof Error);
          assert.equal(err.code, c.code);
          assert.equal(err.syscall, c.syscall);
          assert.ok(err.path?.startsWith(p), err.path);
          assert.equal(typeof err.errno, 'number');
          assert.ok((err.errno ?? 0) < 0);
          assert.match(err.message, new RegExp(`^${c.code}: .*, ${c.syscall} '`));
          return true;
        },
      );
    });
  }

  it('reports ENOTSUP from a filesystem without user xattrs', {
    skip: !existsSync('/proc/self/comm'),
  }, () => {
    assert.throws(() => setXattr('/proc/self/comm', 'user.x', Buffer.from('v')), { code: 'ENOTSUP' });
    assert.equal(readUserXattrs('/proc/self/comm'), null);
  });

  it('refuses paths with NUL bytes and values that are not bytes', async () => {
    const p = await file('f');
    assert.throws(() => listXattrs(`${p}\0x`), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => setXattr(p, 'user.x', 'text' as unknown as Buffer), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    assert.throws(() => getXattr(42 as unknown as string, 'user.x'), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});
