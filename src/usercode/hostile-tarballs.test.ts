import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { createGzip } from 'node:zlib';
import { buildTar, TAR_END, type TarMember, tarHeader } from '../testing/tar-builder.js';
import { type StageTarballOptions, stageTarball } from './tarball.js';
import type { TarballBody } from './tarball-meter.js';
import { chunked, gzip, memoryWriter, rejectsWith } from './tarball-test-support.js';

// Security regressions: uploads built byte by byte (GNU tar refuses to write most of these) that
// try to write outside the upload root, through symlinks, smuggle devices, or exhaust memory,
// disk or time. Each must be refused with a stable code and a message naming the upload and the
// member. Staging never touches a tree, so a refusal changes nothing visible.

const LABEL = 'fermilab/0123abcd';
const GiB = 1024 * 1024 * 1024;

function stage(body: TarballBody | Buffer, options: Partial<StageTarballOptions> = {}) {
  const { writer } = memoryWriter();
  const source = Buffer.isBuffer(body) ? chunked(body) : body;
  return stageTarball(source, { writer, algorithm: 'sha1', label: LABEL, ...options });
}

const tgz = (members: TarMember[]) => gzip(buildTar(members));
const dir = (name: string): TarMember => ({ name, type: '5', mode: 0o755 });
const file = (name: string, content: string | Buffer = 'x'): TarMember => ({ name, content });
const symlink = (name: string, linkname: string): TarMember => ({ name, type: '2', linkname });
const hardlink = (name: string, linkname: string): TarMember => ({ name, type: '1', linkname });
/** Matches the start of a message naming the upload and `entry`. */
const named = (entry: string) =>
  new RegExp(`^tarball ${LABEL}, entry ${JSON.stringify(entry).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);

/** 1 GiB of zeros as one tar member, gzip'd only as fast as it is read; `sent` counts the gzip bytes read. */
function lazyZeroBomb(sent: { bytes: number }): AsyncGenerator<Buffer, void, undefined> {
  async function* plain() {
    yield tarHeader({ name: 'zeros', size: GiB });
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 1024; i++) yield zeros;
    yield TAR_END;
  }
  return (async function* () {
    const source = Readable.from(plain(), { objectMode: false });
    const deflate = createGzip({ level: 9 });
    source.pipe(deflate);
    try {
      for await (const chunk of deflate) {
        sent.bytes += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } finally {
      source.destroy();
      deflate.destroy();
    }
  })();
}

/** A plain tar that never ends: one member announcing 4 GiB, then zeros for as long as anyone reads. */
async function* endlessTar(sent: { bytes: number }): AsyncGenerator<Buffer, void, undefined> {
  const header = tarHeader({ name: 'endless', size: 4 * GiB });
  sent.bytes += header.length;
  yield header;
  const zeros = Buffer.alloc(64 * 1024);
  for (;;) {
    sent.bytes += zeros.length;
    yield zeros;
  }
}

describe('hostile tarballs', () => {
  it('refuses a traversal (../x)', async () => {
    await rejectsWith(stage(tgz([file('../x')])), 'TAR_PATH_ESCAPE', named('../x'), /climbs out/);
  });

  it('refuses a traversal that climbs out after going down (a/../../etc/cron.d/x)', async () => {
    await rejectsWith(stage(tgz([dir('a/'), file('a/../../etc/cron.d/x')])), 'TAR_PATH_ESCAPE');
  });

  it('refuses a traversal hidden in a pax path record', async () => {
    await rejectsWith(
      stage(tgz([{ ...file('innocent'), pax: { path: 'x/../../.bashrc' } }])),
      'TAR_PATH_ESCAPE',
      /x\/\.\.\/\.\.\/\.bashrc/,
    );
  });

  it('refuses an absolute path instead of stripping its slash', async () => {
    await rejectsWith(stage(tgz([file('/etc/passwd')])), 'TAR_PATH_ESCAPE', named('/etc/passwd'), /absolute/);
  });

  it('refuses a symlink-parent escape (lib -> /etc, then lib/passwd)', async () => {
    const err = await rejectsWith(
      stage(tgz([symlink('lib', '/etc'), file('lib/passwd')])),
      'TAR_SYMLINK_PARENT',
      named('lib/passwd'),
      /parent "lib" is a symlink/,
    );
    assert.equal(err.details?.entry, 'lib/passwd');
  });

  it('refuses writing through a directory that was replaced by a symlink', async () => {
    await rejectsWith(
      stage(tgz([dir('a/'), symlink('a', '/'), file('a/etc/x')])),
      'TAR_SYMLINK_PARENT',
      /"a"/,
    );
  });

  it('refuses writing through a hard link to a symlink', async () => {
    await rejectsWith(
      stage(tgz([symlink('s', '/'), hardlink('h', 's'), file('h/etc/x')])),
      'TAR_SYMLINK_PARENT',
      /"h"/,
    );
  });

  it('refuses a hardlink escape (a link to ../../etc/shadow)', async () => {
    await rejectsWith(
      stage(tgz([hardlink('shadow', '../../etc/shadow')])),
      'TAR_PATH_ESCAPE',
      named('shadow'),
      /hard link target/,
    );
  });

  it('refuses a hard link to an absolute path', async () => {
    await rejectsWith(stage(tgz([hardlink('shadow', '/etc/shadow')])), 'TAR_PATH_ESCAPE', /absolute/);
  });

  const badLinks: [string, TarMember[]][] = [
    ['a missing entry', [hardlink('h', 'nowhere')]],
    ['a later entry', [hardlink('h', 'f'), file('f')]],
    ['a directory', [dir('d/'), hardlink('h', 'd')]],
    ['itself', [file('h'), hardlink('h', 'h')]],
    ['a file under a symlinked directory', [symlink('s', '/etc'), hardlink('h', 's/passwd')]],
  ];
  for (const [what, members] of badLinks) {
    it(`refuses a hard link to ${what}`, async () => {
      await rejectsWith(stage(tgz(members)), 'TAR_LINK_INVALID', named('h'));
    });
  }

  const devices: [string, TarMember][] = [
    ['a character device node', { name: 'dev/null', type: '3', devmajor: 1, devminor: 3 }],
    ['a block device node', { name: 'sda', type: '4', devmajor: 8, devminor: 0 }],
    ['a FIFO', { name: 'pipe', type: '6' }],
  ];
  for (const [what, member] of devices) {
    it(`refuses ${what}`, async () => {
      const name = member.name as string;
      await rejectsWith(stage(tgz([member])), 'TARBALL_UNSUPPORTED_ENTRY', named(name));
    });
  }

  it('stops a bomb (1 GiB of zeros, gzip) early, having inflated only a few MB', async () => {
    const sent = { bytes: 0 };
    const started = performance.now();
    const err = await rejectsWith(
      stage(lazyZeroBomb(sent)),
      'TARBALL_BOMB',
      named('zeros'),
      /decompression bomb/,
    );
    const seconds = (performance.now() - started) / 1000;
    const inflated = err.details?.uncompressedBytes as number;
    // The whole bomb is about 1 MB of gzip; it is stopped after a small part of it.
    assert.ok(sent.bytes < 256 * 1024, `read ${sent.bytes} compressed bytes`);
    assert.ok(inflated < 32 * 1024 * 1024, `inflated ${inflated} bytes`);
    assert.ok(seconds < 5, `took ${seconds} s`);
  });

  it('refuses a truncated gzip', async () => {
    const whole = tgz([file('a', randomBytes(200_000)), file('b', 'after')]);
    await rejectsWith(stage(whole.subarray(0, whole.length >> 1)), 'LAYER_CORRUPT', /^tarball /, /truncated/);
  });

  it('refuses a truncated plain tar', async () => {
    const whole = buildTar([file('a', randomBytes(20_000))]);
    await rejectsWith(stage(whole.subarray(0, 10_000)), 'LAYER_CORRUPT', named('a'), /truncated/);
  });

  const notTars: [string, Buffer][] = [
    ['text', Buffer.from('#!/bin/sh\necho this is a script, not a tarball\n'.repeat(100))],
    ['random bytes', randomBytes(8192)],
    ['a gzip of text', gzip(Buffer.from('hello\n'.repeat(1000)))],
    ['a few bytes', Buffer.from('hi\n')],
  ];
  for (const [what, bytes] of notTars) {
    it(`refuses something that is not a tar (${what})`, async () => {
      await rejectsWith(stage(bytes), 'TARBALL_INVALID', /not a tar archive/);
    });
  }

  it('refuses an empty body', async () => {
    await rejectsWith(stage(Buffer.alloc(0)), 'TARBALL_INVALID', /empty/);
  });

  it('refuses a member over the member limit', async () => {
    await rejectsWith(
      stage(tgz([file('small'), file('big', Buffer.alloc(1001))]), { limits: { maxMemberBytes: 1000 } }),
      'TARBALL_MEMBER_TOO_LARGE',
      named('big'),
      /1001 bytes, over the limit of 1000/,
    );
  });

  it('refuses a member over 1 GiB by default, from its header, before reading its content', async () => {
    // The archive ends right after the header: refusing it as truncated would mean it was read.
    const header = tarHeader({ name: 'huge', size: GiB + 1 });
    await rejectsWith(stage(gzip(header)), 'TARBALL_MEMBER_TOO_LARGE', named('huge'));
  });

  it('refuses more entries than the entry limit', async () => {
    const members = Array.from({ length: 11 }, (_, i) => file(`f${i}`));
    await rejectsWith(
      stage(tgz(members), { limits: { maxEntries: 10 } }),
      'TARBALL_TOO_MANY_ENTRIES',
      named('f10'),
    );
  });

  it('counts directories the tarball only implies against the entry limit', async () => {
    const deep = `${Array.from({ length: 20 }, (_, i) => `d${i}`).join('/')}/f`;
    await rejectsWith(stage(tgz([file(deep)]), { limits: { maxEntries: 10 } }), 'TARBALL_TOO_MANY_ENTRIES');
  });

  it('refuses a path longer than the path limit', async () => {
    const long = `${'d/'.repeat(2100)}f`;
    await rejectsWith(
      stage(tgz([{ ...file('x'), pax: { path: long } }])),
      'TARBALL_PATH_TOO_LONG',
      /4201 bytes long, over the limit of 4096/,
    );
  });

  it('refuses a name longer than a file system allows', async () => {
    await rejectsWith(
      stage(tgz([{ ...file('x'), pax: { path: 'n'.repeat(256) } }])),
      'TARBALL_PATH_TOO_LONG',
      /255/,
    );
  });

  it('refuses a symlink target longer than the path limit', async () => {
    await rejectsWith(
      stage(tgz([{ ...symlink('s', 'x'), pax: { linkpath: 't/'.repeat(3000) } }])),
      'TARBALL_PATH_TOO_LONG',
      /symlink target/,
    );
  });

  it('refuses a tarball over the size limit', async () => {
    await rejectsWith(
      stage(tgz([file('data', randomBytes(50_000))]), { limits: { maxTarballBytes: 10_000 } }),
      'TARBALL_TOO_LARGE',
      /larger than the limit of 10000 bytes/,
    );
  });

  it('stops reading an endless upload at the size limit', async () => {
    const sent = { bytes: 0 };
    await rejectsWith(
      stage(endlessTar(sent), { limits: { maxTarballBytes: 1 << 20, maxMemberBytes: 8 * GiB } }),
      'TARBALL_TOO_LARGE',
      named('endless'),
    );
    assert.ok(sent.bytes <= (1 << 20) + 128 * 1024, `read ${sent.bytes} bytes`);
  });

  const whiteouts = ['.wh.passwd', 'a/.wh..wh..opq', '.wh..wh.plnk/123'];
  for (const name of whiteouts) {
    it(`refuses the OCI whiteout name ${name} instead of interpreting it`, async () => {
      await rejectsWith(stage(tgz([dir('a/'), file(name, '')])), 'TAR_NAME_INVALID', /whiteout/);
    });
  }

  it('refuses a file over a directory that has entries', async () => {
    await rejectsWith(stage(tgz([dir('a/'), file('a/x'), file('a')])), 'TAR_NAME_INVALID', named('a'));
  });

  it('refuses a member under a file', async () => {
    await rejectsWith(stage(tgz([file('a'), file('a/x')])), 'TAR_NAME_INVALID', /parent "a" is a file/);
  });

  it('refuses a catalog marker name on anything but a file', async () => {
    await rejectsWith(stage(tgz([dir('.cvmfscatalog/')])), 'TAR_NAME_INVALID', /reserved/);
  });

  it('refuses a NUL byte in a pax path, telling it as the tarball, not as an image layer', async () => {
    const err = await rejectsWith(
      stage(tgz([{ ...file('x'), pax: { path: 'etc/passwd\u0000.txt' } }])),
      'TAR_NAME_INVALID',
      /^tarball fermilab\/0123abcd/,
      /NUL byte/,
    );
    assert.doesNotMatch(err.message, /layer/);
    assert.doesNotMatch(err.hint ?? '', /image/);
  });
});
