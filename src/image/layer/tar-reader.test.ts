import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { S_IFMT } from '../../catalog/index.js';
import { makedev, mknod, setXattr } from '../../posix/index.js';
import { buildTar, paxGlobal, TAR_END, tarMember } from '../../testing/tar-builder.js';
import { tempDir } from '../../testing/temp-dir.js';
import { readTar } from './tar-reader.js';
import { chunked, rejectsWith, sh } from './test-support.js';

// The tar reader against archives written by GNU tar 1.34 (and bsdtar for libarchive's xattr
// records), compared with the files they were made from; plus hand-built headers for what
// GNU tar does not write on its own (base-256 sizes, global headers, damaged archives).

interface Listed {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  mtimeNs: number | null;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  data: Buffer;
}

async function list(bytes: Buffer, chunkSize?: number): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  for await (const entry of readTar(chunked(bytes, chunkSize), { label: 'test.tar' })) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.content) chunks.push(Buffer.from(chunk));
    const { content: _, offset: __, ...info } = entry;
    out.set(entry.path, { ...info, data: Buffer.concat(chunks) });
  }
  return out;
}

function tarOf(dir: string, args: string): Buffer {
  sh(`tar ${args} -cf ${dir}/out.tar -C ${dir}/src .`);
  return readFileSync(path.join(dir, 'out.tar'));
}

describe('readTar', () => {
  it('reads every entry type GNU tar writes, with modes, owners and times', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const src = path.join(dir, 'src');
      mkdirSync(path.join(src, 'sticky'), { recursive: true });
      chmodSync(path.join(src, 'sticky'), 0o1777);
      writeFileSync(path.join(src, 'setuid'), 'binary');
      chmodSync(path.join(src, 'setuid'), 0o4755);
      symlinkSync('../setuid', path.join(src, 'sticky', 'link'));
      sh(`ln ${src}/setuid ${src}/hard && mkfifo ${src}/fifo && chown 1234:5678 ${src}/fifo`);
      mknod(path.join(src, 'null'), 0o020666, makedev(1, 3));
      mknod(path.join(src, 'loop'), 0o060660, makedev(7, 200));
      sh(`touch -h -d @1600000000.123456789 ${src}/setuid ${src}/sticky/link`);
      const entries = await list(tarOf(dir, '--format=pax --sort=name'));
      assert.deepEqual(
        [...entries.keys()],
        ['', 'fifo', 'hard', 'loop', 'null', 'setuid', 'sticky', 'sticky/link'],
      );
      for (const [name, entry] of entries) {
        if (entry.type === 'hardlink') continue;
        const stat = lstatSync(path.join(src, name), { bigint: true });
        assert.equal(entry.mode, Number(stat.mode), name);
        assert.equal(entry.uid, Number(stat.uid), name);
        assert.equal(entry.gid, Number(stat.gid), name);
        assert.equal(entry.mtime, Number(stat.mtimeMs / 1000n), name);
        assert.equal(entry.mtimeNs, Number(stat.mtimeNs % 1_000_000_000n), name);
      }
      assert.equal(entries.get('hard')?.type, 'file');
      assert.equal(entries.get('hard')?.data.toString(), 'binary');
      assert.deepEqual(
        [entries.get('setuid')?.type, entries.get('setuid')?.linkname, entries.get('setuid')?.mode],
        ['hardlink', 'hard', 0o4755],
      );
      assert.equal(entries.get('sticky')?.mode, 0o041777);
      assert.deepEqual(
        [entries.get('sticky/link')?.type, entries.get('sticky/link')?.linkname],
        ['symlink', '../setuid'],
      );
      assert.equal(entries.get('sticky/link')?.mtimeNs, 123456789);
      assert.deepEqual(
        [entries.get('fifo')?.type, entries.get('fifo')?.uid, entries.get('fifo')?.gid],
        ['fifo', 1234, 5678],
      );
      assert.deepEqual(
        [entries.get('null')?.type, entries.get('null')?.devmajor, entries.get('null')?.devminor],
        ['char', 1, 3],
      );
      assert.deepEqual(
        [entries.get('loop')?.type, entries.get('loop')?.devmajor, entries.get('loop')?.devminor],
        ['block', 7, 200],
      );
      assert.equal(entries.get('')?.type, 'directory');
      assert.equal(entries.get('')?.uname, 'root');
    } finally {
      cleanup();
    }
  });

  it('keeps binary xattr values, NUL bytes included (GNU tar SCHILY.xattr)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src'));
      const file = path.join(dir, 'src', 'ping');
      writeFileSync(file, 'elf');
      const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex');
      setXattr(file, 'security.capability', capability);
      setXattr(file, 'user.bin', Buffer.from([0, 0xff, 0, 0x61, 0x0a, 0x3d]));
      setXattr(file, 'user.we ird%=name', Buffer.from('v'));
      const entry = (await list(tarOf(dir, '--format=pax --xattrs --xattrs-include=*'))).get('ping');
      assert.deepEqual(entry?.xattrs.get('security.capability'), capability);
      assert.deepEqual(entry?.xattrs.get('user.bin'), Buffer.from([0, 0xff, 0, 0x61, 0x0a, 0x3d]));
      assert.deepEqual(entry?.xattrs.get('user.we ird%=name'), Buffer.from('v'));
    } finally {
      cleanup();
    }
  });

  it("reads libarchive's base64 xattr records (bsdtar LIBARCHIVE.xattr)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src'));
      const file = path.join(dir, 'src', 'f');
      writeFileSync(file, '');
      setXattr(file, 'user.bin', Buffer.from([0, 0xff, 0]));
      setXattr(file, 'user.sp ace%', Buffer.from([1, 2, 3, 4, 5]));
      sh(`bsdtar --xattrs --format=pax -cf ${dir}/out.tar -C ${dir}/src f`);
      const tar = readFileSync(path.join(dir, 'out.tar'));
      assert.ok(tar.includes('LIBARCHIVE.xattr.user.sp%20ace%25='));
      const entry = (await list(tar)).get('f');
      assert.deepEqual(entry?.xattrs.get('user.bin'), Buffer.from([0, 0xff, 0]));
      assert.deepEqual(entry?.xattrs.get('user.sp ace%'), Buffer.from([1, 2, 3, 4, 5]));
    } finally {
      cleanup();
    }
  });

  const longNames: [string, string][] = [
    ['pax path and linkpath records', '--format=pax'],
    ['GNU long name and long link records (L, K)', '--format=gnu'],
  ];
  for (const [what, format] of longNames) {
    it(`reads names over 100 bytes from ${what}`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const deep = path.join('d'.repeat(90), 'e'.repeat(90), 'f'.repeat(90));
        mkdirSync(path.join(dir, 'src', deep), { recursive: true });
        writeFileSync(path.join(dir, 'src', deep, 'file'), 'deep');
        symlinkSync('t'.repeat(150), path.join(dir, 'src', deep, 'link'));
        sh(`ln ${dir}/src/${deep}/file ${dir}/src/${deep}/zz-hardlink-with-a-long-name`);
        const entries = await list(tarOf(dir, `${format} --sort=name`), 100);
        assert.equal(entries.get(`${deep}/file`)?.data.toString(), 'deep');
        assert.equal(entries.get(`${deep}/link`)?.linkname, 't'.repeat(150));
        assert.equal(entries.get(`${deep}/zz-hardlink-with-a-long-name`)?.linkname, `${deep}/file`);
      } finally {
        cleanup();
      }
    });
  }

  it('reads a name split between the ustar prefix and name fields', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const deep = path.join('p'.repeat(80), 'q'.repeat(80));
      mkdirSync(path.join(dir, 'src', deep), { recursive: true });
      writeFileSync(path.join(dir, 'src', deep, 'file'), 'ustar');
      const entries = await list(tarOf(dir, '--format=ustar'));
      assert.equal(entries.get(`${deep}/file`)?.data.toString(), 'ustar');
    } finally {
      cleanup();
    }
  });

  it('reads a pre-POSIX v7 archive', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src', 'd'), { recursive: true });
      writeFileSync(path.join(dir, 'src', 'd', 'file'), 'v7');
      const entries = await list(tarOf(dir, '--format=v7'));
      assert.equal(entries.get('d')?.type, 'directory');
      assert.equal(entries.get('d/file')?.data.toString(), 'v7');
      assert.equal(entries.get('d/file')?.uname, '');
    } finally {
      cleanup();
    }
  });

  it('reads base-256 uids, gids and times before 1970 from GNU tar', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src', 'old'), 'x');
      sh(`touch -d '1960-01-01 00:00:00 UTC' ${dir}/src/old`);
      const tar = tarOf(dir, '--format=gnu --owner=big:3000000 --group=big:4000000');
      const entry = (await list(tar)).get('old');
      assert.equal(tar[512 + 108], 0x80, 'GNU tar wrote the uid in base-256');
      assert.deepEqual(
        [entry?.uid, entry?.gid, entry?.uname, entry?.mtime],
        [3000000, 4000000, 'big', -315619200],
      );
    } finally {
      cleanup();
    }
  });

  it('reads a base-256 size (as GNU tar writes files over 8 GiB)', async () => {
    const content = Buffer.alloc(1000, 7);
    const tar = buildTar([{ name: 'big', content, base256: ['size', 'uid'], uid: 70000 }]);
    const entry = (await list(tar)).get('big');
    assert.deepEqual([entry?.size, entry?.uid, entry?.data.equals(content)], [1000, 70000, true]);
  });

  it('applies pax global headers to later entries, and local records over them', async () => {
    const tar = Buffer.concat([
      paxGlobal({ uid: '4242', uname: 'global', comment: 'from git archive' }),
      tarMember({ name: 'a', content: 'a' }),
      tarMember({ name: 'b', content: 'b', pax: { uid: '7', uname: '' } }),
      TAR_END,
    ]);
    const entries = await list(tar);
    assert.deepEqual([entries.get('a')?.uid, entries.get('a')?.uname], [4242, 'global']);
    assert.deepEqual([entries.get('b')?.uid, entries.get('b')?.uname], [7, 'root']);
  });

  it('reads headers split across every possible chunk boundary', async () => {
    const tar = buildTar([
      { name: 'a', content: 'x'.repeat(700), pax: { path: 'long/'.repeat(30), mtime: '1.5' } },
      { name: 'b', type: '2', linkname: 'a' },
    ]);
    for (const size of [1, 7, 511, 513]) {
      const entries = await list(tar, size);
      assert.equal(entries.get('long/'.repeat(30).slice(0, -1))?.data.length, 700);
      assert.equal(entries.get('long/'.repeat(30).slice(0, -1))?.mtimeNs, 500000000);
      assert.equal(entries.get('b')?.linkname, 'a');
    }
  });

  it('skips content that is not read, and refuses content read after the next entry', async () => {
    const tar = buildTar([
      { name: 'a', content: Buffer.alloc(3000, 1) },
      { name: 'b', content: 'bb' },
    ]);
    const reader = readTar(chunked(tar, 100), { label: 'test.tar' });
    const first = (await reader.next()).value;
    assert.ok(first);
    const second = (await reader.next()).value;
    assert.equal(second?.path, 'b');
    await rejectsWith(
      (async () => {
        for await (const _ of first.content);
      })(),
      'INVALID_ARGUMENT',
      /after the next entry/,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of second?.content ?? []) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), 'bb');
    assert.equal((await reader.next()).done, true);
  });

  it('refuses a header with a bad checksum', async () => {
    const tar = buildTar([{ name: 'a', content: 'a' }]);
    tar[0] = 0x62; // name 'a' -> 'b' without fixing the checksum
    await rejectsWith(list(tar), 'LAYER_CORRUPT', /checksum/, /test\.tar/);
    await rejectsWith(list(buildTar([{ name: 'a', checksum: 1234 }])), 'LAYER_CORRUPT', /checksum/);
  });

  it('refuses a GNU tar archive cut short, wherever the cut is', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src', 'file'), Buffer.alloc(5000, 1));
      const tar = tarOf(dir, '--format=pax');
      // GNU tar pads the archive to 10 KiB records with zeros: the members end where the last
      // non-zero byte's block ends.
      let last = tar.length - 1;
      while (tar[last] === 0) last--;
      const membersEnd = Math.ceil((last + 1) / 512) * 512;
      for (const cut of [100, 700, 2048, 4000, membersEnd - 1, membersEnd]) {
        await rejectsWith(list(tar.subarray(0, cut)), 'LAYER_CORRUPT', /truncated/);
      }
      assert.equal((await list(tar.subarray(0, membersEnd + 512))).size, 2, 'a lone zero block ends it');
      assert.equal((await list(tar)).size, 2);
      const withoutEnd = buildTar([{ name: 'a', content: 'a' }], { end: false });
      await rejectsWith(
        list(withoutEnd),
        'LAYER_CORRUPT',
        /truncated: the archive ends without its two end-of-archive blocks/,
      );
    } finally {
      cleanup();
    }
  });

  it('accepts trailing garbage after the end blocks and a lone zero block at the end', async () => {
    const members = buildTar([{ name: 'a', content: 'a' }], { end: false });
    const garbage = createHash('sha256').update('x').digest();
    assert.equal((await list(Buffer.concat([members, TAR_END, garbage]))).size, 1);
    assert.equal((await list(Buffer.concat([members, Buffer.alloc(512)]))).size, 1);
  });

  it('refuses a zero block followed by more entries', async () => {
    const tar = Buffer.concat([Buffer.alloc(512), buildTar([{ name: 'hidden', content: 'x' }])]);
    await rejectsWith(list(tar), 'LAYER_CORRUPT', /zero block inside/);
  });

  it('refuses sparse files from GNU tar, in GNU and pax formats', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'src'));
      sh(
        `truncate -s 5M ${dir}/src/sparse && echo data | dd of=${dir}/src/sparse bs=1 seek=3M conv=notrunc status=none`,
      );
      for (const format of ['gnu', 'pax']) {
        await rejectsWith(
          list(tarOf(dir, `--sparse --format=${format}`)),
          'UNSUPPORTED_ENTRY',
          /sparse files/,
          /sparse"/,
        );
      }
    } finally {
      cleanup();
    }
  });

  it('refuses entry types an image layer cannot hold', async () => {
    await rejectsWith(list(buildTar([{ name: 'vol', type: 'V' }])), 'UNSUPPORTED_ENTRY', /type "V"/);
  });

  it('gives full st_mode type bits for each kind', async () => {
    const entries = await list(
      buildTar([
        { name: 'f', content: '' },
        { name: 'd/', type: '5', mode: 0o755 },
        { name: 'old-dir/', type: '\0', mode: 0o700 },
      ]),
    );
    assert.equal((entries.get('f')?.mode ?? 0) & S_IFMT, 0o100000);
    assert.equal(entries.get('d')?.mode, 0o40755);
    assert.equal(entries.get('old-dir')?.type, 'directory');
  });
});
