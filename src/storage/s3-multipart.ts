import { BargeError } from '../error/index.js';
import type { S3Client } from './s3-client.js';
import { xmlValue } from './s3-xml.js';

/** Parts of one object uploaded at once. */
const PARTS_PARALLEL = 4;

/**
 * Uploads a large object in parts (S3 multipart upload): initiate, PUT each part (a few at once,
 * each signed with its own SHA-256), complete with the parts' ETags. The object appears whole
 * at completion, or not at all; a failed upload is aborted so that its parts do not linger.
 */
export async function putMultipart(
  client: S3Client,
  key: string,
  data: Uint8Array,
  headers: Record<string, string>,
  partSize: number,
): Promise<void> {
  const init = await client.send({ method: 'POST', key, query: { uploads: '' }, headers });
  const uploadId = xmlValue(init.body.toString('utf8'), 'UploadId');
  if (!uploadId) {
    throw new BargeError(
      'STORAGE_PROTOCOL_ERROR',
      `${client.url(key)}: multipart upload started without an UploadId`,
    );
  }
  try {
    const count = Math.ceil(data.length / partSize);
    const etags: string[] = new Array(count);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const body = Buffer.from(
          data.buffer,
          data.byteOffset + i * partSize,
          Math.min(partSize, data.length - i * partSize),
        );
        const r = await client.send({
          method: 'PUT',
          key,
          query: { partNumber: String(i + 1), uploadId },
          body,
        });
        etags[i] = String(r.headers.etag ?? '');
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_PARALLEL, count) }, worker));
    const parts = etags.map(
      (etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`,
    );
    const done = await client.send({
      method: 'POST',
      key,
      query: { uploadId },
      headers: { 'content-type': 'application/xml' },
      body: Buffer.from(`<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`),
    });
    // Completion can fail after a 200: the error is then in the body (S3 API reference).
    const text = done.body.toString('utf8');
    if (text.includes('<Error>')) {
      throw new BargeError(
        'STORAGE_UNAVAILABLE',
        `${client.url(key)}: completing the multipart upload failed: ${xmlValue(text, 'Code')} ${xmlValue(text, 'Message') ?? ''}`,
        { hint: 'retry; nothing refers to this object yet' },
      );
    }
  } catch (err) {
    await client.send({ method: 'DELETE', key, query: { uploadId }, ok: [204, 200, 404] }).catch(() => {});
    throw err;
  }
}
