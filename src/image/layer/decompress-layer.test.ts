import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as yieldToProducer } from 'node:timers/promises';
import { BargeError } from '../../error/index.js';
import { tempDir } from '../../testing/temp-dir.js';
import { decompressLayer, sniffCompression } from './decompress-layer.js';
import { readLayer } from './read-layer.js';
import { chunked, collect, rejectsWith, sh } from './test-support.js';
import { zstdAvailable } from './zstd-process.js';

// Decompression with the real gzip and zstd tools making the layers: sniffing, damage, the zstd
// child process, and memory staying bounded however large the layer.

const LAYER = 'sha256:2222222222222222222222222222222222222222222222222222222222222222';

/** A directory with a small tree, tarred by GNU tar and compressed each way. */
function layers(dir: string): Record<'none' | 'gzip' | 'zstd', Buffer> {
  mkdirSync(path.join(dir, 'src', 'etc'), { recursive: true });
  writeFileSync(path.join(dir, 'src', 'etc', 'motd'), 'hello\n');
  writeFileSync(path.join(dir, 'src', 'data'), randomBytes(100_000));
  sh(`tar --format=pax -cf layer.tar -C src . && gzip -k layer.tar && zstd -q layer.tar`, dir);
  return {
    none: readFileSync(path.join(dir, 'layer.tar')),
    gzip: readFileSync(path.join(dir, 'layer.tar.gz')),
    zstd: readFileSync(path.join(dir, 'layer.tar.zst')),
  };
}

describe('decompressLayer', () => {
  it('sniffs gzip, zstd and plain tar by their magic bytes and reads the same entries', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const blobs = layers(dir);
      const expected = await collect(readLayer(chunked(blobs.none), { digest: LAYER }));
      assert.deepEqual(expected.map((e) => e.path).sort(), ['', 'data', 'etc', 'etc/motd']);
      for (const [kind, blob] of Object.entries(blobs)) {
        assert.equal(sniffCompression(blob), kind);
        assert.deepEqual(await collect(readLayer(chunked(blob, 1000), { digest: LAYER })), expected, kind);
      }
    } finally {
      cleanup();
    }
  });

  it('yields exactly the tar bytes, whatever the compression and chunking', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const blobs = layers(dir);
      for (const [kind, blob] of Object.entries(blobs)) {
        for (const size of [1, 3, 65536]) {
          const out: Buffer[] = [];
          for await (const chunk of decompressLayer(chunked(blob, size), { label: LAYER })) out.push(chunk);
          assert.ok(Buffer.concat(out).equals(blobs.none), `${kind} in ${size}-byte chunks`);
        }
      }
      const empty: Buffer[] = [];
      for await (const chunk of decompressLayer(chunked(Buffer.alloc(0)), { label: LAYER }))
        empty.push(chunk);
      assert.equal(empty.length, 0);
    } finally {
      cleanup();
    }
  });

  it('reads a gzip stream of several members (pigz, concatenated layers)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const tar = layers(dir).none;
      writeFileSync(path.join(dir, 'a'), tar.subarray(0, 3000));
      writeFileSync(path.join(dir, 'b'), tar.subarray(3000));
      sh('gzip a b && cat a.gz b.gz > both.gz', dir);
      const entries = await collect(
        readLayer(chunked(readFileSync(path.join(dir, 'both.gz'))), { digest: LAYER }),
      );
      assert.equal(entries.find((e) => e.path === 'etc/motd')?.type, 'file');
    } finally {
      cleanup();
    }
  });

  const damaged: [string, 'gzip' | 'zstd', (blob: Buffer) => Buffer, RegExp][] = [
    ['a truncated gzip layer', 'gzip', (b) => b.subarray(0, b.length - 5000), /truncated: gzip/],
    ['a gzip layer without its trailer', 'gzip', (b) => b.subarray(0, b.length - 4), /truncated: gzip/],
    // A damaged deflate stream garbles the tar, whose checks usually see it before gzip's CRC.
    ['a gzip layer with a flipped byte', 'gzip', (b) => flip(b, 200), /layer sha256:2{64}[:,] /],
    [
      'a gzip layer with a wrong CRC (found only after the tar end)',
      'gzip',
      (b) => flip(b, b.length - 8),
      /gzip stream is damaged \(incorrect data check\)/,
    ],
    ['a truncated zstd layer', 'zstd', (b) => b.subarray(0, b.length - 5000), /truncated: zstd/],
    ['a zstd layer with a flipped byte', 'zstd', (b) => flip(b, b.length - 100), /zstd could not decompress/],
  ];
  for (const [what, kind, damage, message] of damaged) {
    it(`reports ${what} as LAYER_CORRUPT, naming the layer`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const blob = damage(layers(dir)[kind]);
        await rejectsWith(
          collect(readLayer(chunked(blob), { digest: LAYER })),
          'LAYER_CORRUPT',
          message,
          new RegExp(LAYER),
        );
      } finally {
        cleanup();
      }
    });
  }

  it('says how to install zstd when the command is missing', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const blob = layers(dir).zstd;
      const err = await rejectsWith(
        collect(readLayer(chunked(blob), { digest: LAYER, zstd: path.join(dir, 'no-such-zstd') })),
        'TOOL_NOT_FOUND',
        /zstd-compressed/,
        /not found/,
      );
      assert.match(err.hint ?? '', /apt-get install zstd/);
      assert.equal(await zstdAvailable(path.join(dir, 'no-such-zstd')), false);
      assert.equal(await zstdAvailable(), true);
    } finally {
      cleanup();
    }
  });

  for (const kind of ['gzip', 'zstd', 'none'] as const) {
    it(`passes an error of the ${kind} blob stream through unchanged`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const blob = layers(dir)[kind];
        async function* failing() {
          yield* chunked(blob.subarray(0, 20_000), 4096);
          throw new BargeError('BLOB_DIGEST_MISMATCH', 'upstream says no');
        }
        await rejectsWith(
          collect(readLayer(failing(), { digest: LAYER })),
          'BLOB_DIGEST_MISMATCH',
          /upstream says no/,
        );
      } finally {
        cleanup();
      }
    });
  }

  it('stops the zstd process when the reader stops early', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const blob = layers(dir).zstd;
      for await (const entry of readLayer(chunked(blob, 1000), { digest: LAYER })) {
        if (entry.type === 'directory') break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sh(`ps --ppid ${process.pid} -o comm= | grep -c '^zstd$' || true`).trim(), '0');
    } finally {
      cleanup();
    }
  });

  // A 20 MB incompressible file through each decompressor, read by a slow consumer: the bytes
  // pulled from the blob may run ahead of the content consumed only by the pipeline's buffers.
  // Measured here, the same for 20 MB and 60 MB files: 0.01 MiB ahead for plain tar, 0.13 MiB
  // for gzip, 2.2 MiB for zstd (two pipes and zstd's own buffers). The limits leave room.
  const ahead: [string, 'none' | 'gzip' | 'zstd', number][] = [
    ['plain tar', 'none', 1],
    ['gzip', 'gzip', 1],
    ['zstd', 'zstd', 8],
  ];
  for (const [what, kind, limitMiB] of ahead) {
    it(`streams a 20 MB file from a ${what} layer with bounded memory`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const src = path.join(dir, 'src');
        mkdirSync(src);
        const data = randomBytes(20 * 1024 * 1024);
        writeFileSync(path.join(src, 'big'), data);
        sh('tar -cf layer.tar -C src big && gzip -k -1 layer.tar && zstd -q -1 layer.tar', dir);
        const file = { none: 'layer.tar', gzip: 'layer.tar.gz', zstd: 'layer.tar.zst' }[kind];
        const blob = readFileSync(path.join(dir, file));
        let pulled = 0;
        async function* counted() {
          for await (const chunk of chunked(blob, 64 * 1024)) {
            pulled += chunk.length;
            yield chunk;
          }
        }
        let consumed = 0;
        let maxAhead = 0;
        let largestChunk = 0;
        for await (const entry of readLayer(counted(), { digest: LAYER })) {
          if (entry.type !== 'file') continue;
          for await (const chunk of entry.content) {
            assert.ok(chunk.equals(data.subarray(consumed, consumed + chunk.length)), 'content in order');
            consumed += chunk.length;
            largestChunk = Math.max(largestChunk, chunk.length);
            maxAhead = Math.max(maxAhead, pulled - consumed);
            await yieldToProducer();
          }
        }
        assert.equal(consumed, data.length);
        assert.ok(maxAhead < limitMiB * 1024 * 1024, `pulled ${maxAhead} bytes ahead of the consumer`);
        assert.ok(largestChunk <= 1024 * 1024, `largest chunk ${largestChunk}`);
      } finally {
        cleanup();
      }
    });
  }
});

function flip(blob: Buffer, at: number): Buffer {
  const copy = Buffer.from(blob);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}
