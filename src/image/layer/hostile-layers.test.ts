import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTar, paxRecords, type TarMember } from '../../testing/tar-builder.js';
import { type ReadLayerOptions, readLayer } from './read-layer.js';
import { SymlinkTracker } from './symlink-tracker.js';
import { chunked, collect, rejectsWith } from './test-support.js';

// Security regressions: layers built byte by byte (GNU tar refuses to write most of these) that
// try to write outside the image root, through symlinks, or under names other tools read
// differently. Each must be refused with a code and a message naming the layer and the entry.

const LAYER = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';

function read(members: TarMember[], options: Partial<ReadLayerOptions> = {}) {
  return collect(readLayer(chunked(buildTar(members)), { digest: LAYER, ...options }));
}

const dir = (name: string): TarMember => ({ name, type: '5', mode: 0o755 });
const file = (name: string, content = 'x'): TarMember => ({ name, content });
const symlink = (name: string, linkname: string): TarMember => ({ name, type: '2', linkname });
const hardlink = (name: string, linkname: string): TarMember => ({ name, type: '1', linkname });

describe('hostile layers', () => {
  it('refuses ../../etc/passwd', async () => {
    await rejectsWith(
      read([file('../../etc/passwd')]),
      'TAR_PATH_ESCAPE',
      /climbs out/,
      new RegExp(LAYER),
      /"\.\.\/\.\.\/etc\/passwd"/,
    );
  });

  it('refuses a path that climbs out after going down (a/../../b)', async () => {
    await rejectsWith(read([dir('a/'), file('a/../../b')]), 'TAR_PATH_ESCAPE', /a\/\.\.\/\.\.\/b/);
  });

  it('refuses an escape hidden in a pax path record', async () => {
    await rejectsWith(
      read([{ ...file('innocent'), pax: { path: 'x/../../../etc/cron.d/evil' } }]),
      'TAR_PATH_ESCAPE',
    );
  });

  it('refuses an escape hidden in a GNU long name', async () => {
    await rejectsWith(
      read([{ ...file('././@LongLink'), gnuLongName: `${'a/'.repeat(60)}${'../'.repeat(61)}etc/passwd` }]),
      'TAR_PATH_ESCAPE',
    );
  });

  it('refuses an escape split across the ustar prefix and name', async () => {
    await rejectsWith(
      read([{ ...file('../etc/passwd'), prefix: '..' }]),
      'TAR_PATH_ESCAPE',
      /"\.\.\/\.\.\/etc\/passwd"/,
    );
  });

  it('reads an absolute path relative to the root, as docker does', async () => {
    const entries = await read([file('/etc/motd', 'hi')]);
    assert.deepEqual(
      entries.map((e) => e.path),
      ['etc/motd'],
    );
  });

  it('refuses an absolute path when told to', async () => {
    await rejectsWith(read([file('/etc/motd')], { absolute: 'refuse' }), 'TAR_PATH_ESCAPE', /is absolute/);
  });

  it('refuses an absolute path that climbs above the root (/../etc/passwd)', async () => {
    await rejectsWith(read([file('/../etc/passwd')]), 'TAR_PATH_ESCAPE');
  });

  it('refuses an entry whose parent was made a symlink earlier in the layer', async () => {
    const err = await rejectsWith(
      read([symlink('etc', '/host-etc'), file('etc/passwd')]),
      'TAR_SYMLINK_PARENT',
      /"etc\/passwd"/,
      /parent "etc" is a symlink/,
    );
    assert.equal(err.details?.entry, 'etc/passwd');
  });

  it('refuses an entry through a symlinked grandparent with a relative target', async () => {
    await rejectsWith(
      read([dir('usr/'), symlink('usr/lib', '../../..'), file('usr/lib/x/y')]),
      'TAR_SYMLINK_PARENT',
      /"usr\/lib"/,
    );
  });

  it('refuses an entry through a symlink made by a lower layer', async () => {
    const symlinks = new SymlinkTracker();
    await read([dir('opt/'), symlink('opt/app', '/')], { symlinks });
    await rejectsWith(read([file('opt/app/etc/shadow')], { symlinks }), 'TAR_SYMLINK_PARENT', /"opt\/app"/);
  });

  it('refuses an entry through a lower symlink the flattener reports', async () => {
    const symlinks = new SymlinkTracker({ lower: (path) => path === 'lib' });
    await rejectsWith(read([file('lib/libc.so.6')], { symlinks }), 'TAR_SYMLINK_PARENT', /"lib"/);
  });

  it('refuses an entry through a hard link to a symlink', async () => {
    await rejectsWith(
      read([symlink('s', '/etc'), hardlink('h', 's'), file('h/passwd')]),
      'TAR_SYMLINK_PARENT',
      /"h"/,
    );
  });

  it('refuses a whiteout inside a symlinked directory', async () => {
    await rejectsWith(read([symlink('etc', '/host-etc'), file('etc/.wh.passwd', '')]), 'TAR_SYMLINK_PARENT');
  });

  it('accepts a symlink replaced by a directory, or whited out, before entries go under it', async () => {
    const symlinks = new SymlinkTracker();
    await read([symlink('a', '/'), symlink('b', '/')], { symlinks });
    const entries = await read([dir('a/'), file('a/x'), file('.wh.b', ''), dir('b/'), file('b/y')], {
      symlinks,
    });
    assert.deepEqual(
      entries.map((e) => `${e.type} ${e.path}`),
      ['directory a', 'file a/x', 'whiteout b', 'directory b', 'file b/y'],
    );
  });

  it('refuses a hard link whose target climbs out of the root', async () => {
    await rejectsWith(
      read([hardlink('shadow', '../../../etc/shadow')]),
      'TAR_PATH_ESCAPE',
      /hard link target/,
      /"shadow"/,
    );
  });

  it('refuses a hard link to a file not earlier in the layer', async () => {
    await rejectsWith(
      read([hardlink('shadow', '/etc/shadow')]),
      'TAR_LINK_INVALID',
      /"etc\/shadow" is not an earlier/,
    );
  });

  it('refuses a hard link to a later entry', async () => {
    await rejectsWith(read([hardlink('a', 'b'), file('b')]), 'TAR_LINK_INVALID');
  });

  it('refuses a hard link to a directory', async () => {
    await rejectsWith(read([dir('d/'), hardlink('l', 'd')]), 'TAR_LINK_INVALID');
  });

  it('refuses a hard link to itself', async () => {
    await rejectsWith(read([file('a'), hardlink('a', 'a')]), 'TAR_LINK_INVALID');
  });

  it('accepts a hard link to an earlier file of the layer', async () => {
    const entries = await read([file('bin/a', 'elf'), hardlink('bin/b', './bin/a')]);
    assert.equal(entries[1]?.type, 'hardlink');
    assert.equal((entries[1] as { linkname: string }).linkname, 'bin/a');
  });

  const nuls: [string, TarMember][] = [
    ['a pax path', { ...file('x'), pax: { path: 'etc/passwd\u0000.txt' } }],
    ['a GNU long name', { ...file('x'), gnuLongName: 'etc/passwd\u0000/../../x' }],
    ['a pax link path', { ...symlink('x', 'y'), pax: { linkpath: '/etc/passwd\u0000' } }],
  ];
  for (const [what, member] of nuls) {
    it(`refuses a NUL byte in ${what}`, async () => {
      await rejectsWith(read([member]), 'TAR_NAME_INVALID', /NUL byte/, new RegExp(LAYER));
    });
  }

  it('refuses a name that is not UTF-8', async () => {
    await rejectsWith(
      read([file('caf\u00e9'), { ...file('x'), name: Buffer.from([0x61, 0xff, 0x62]) }]),
      'TAR_NAME_INVALID',
      /UTF-8/,
    );
  });

  const whiteouts: [string, string][] = [
    ['a whiteout of ..', 'a/.wh...'],
    ['a whiteout of .', 'a/.wh..'],
    ['a whiteout of nothing', 'a/.wh.'],
    ['a whiteout marker used as a directory', '.wh.etc/passwd'],
  ];
  for (const [what, name] of whiteouts) {
    it(`refuses ${what}`, async () => {
      await rejectsWith(read([dir('a/'), file(name, '')]), 'TAR_NAME_INVALID');
    });
  }

  it('refuses a file in place of the root', async () => {
    await rejectsWith(read([file('./', 'x')]), 'TAR_NAME_INVALID', /image root/);
  });

  it('refuses a pax header larger than 1 MiB instead of buffering it', async () => {
    await rejectsWith(
      read([{ ...file('x'), pax: { comment: 'z'.repeat(2 * 1024 * 1024) } }]),
      'UNSUPPORTED_ENTRY',
      /limit/,
    );
  });

  it('refuses pax headers that pile up beyond 1 MiB for one entry', async () => {
    const piles: TarMember[] = Array.from({ length: 5 }, (_, i) => ({
      name: 'PaxHeader',
      type: 'x',
      content: paxRecords({ [`comment${i}`]: 'z'.repeat(300_000) }),
    }));
    await rejectsWith(read([...piles, file('x')]), 'UNSUPPORTED_ENTRY', /for one entry/);
  });

  it('refuses pax global headers that pile up beyond 1 MiB', async () => {
    const piles: TarMember[] = Array.from({ length: 5 }, (_, i) => ({
      name: 'GlobalHead',
      type: 'g',
      content: paxRecords({ [`comment${i}`]: 'z'.repeat(300_000) }),
    }));
    await rejectsWith(read([...piles, file('x')]), 'UNSUPPORTED_ENTRY', /global records/);
  });

  it('refuses a symlink that claims a size, so no tool reads its data as headers', async () => {
    const smuggled = buildTar([file('../../evil')], { end: false });
    await rejectsWith(
      read([{ ...symlink('s', 't'), content: smuggled }]),
      'LAYER_CORRUPT',
      /symlink entry with a size/,
    );
  });
});
