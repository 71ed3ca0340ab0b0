/**
 * The few DER (X.690 distinguished encoding) productions a self-signed X.509 certificate needs.
 * Each returns the complete encoding (tag, definite length, content).
 */

/** Tag + length + content, with the shortest length form DER requires. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let head: Buffer;
  if (n < 0x80) {
    head = Buffer.from([tag, n]);
  } else {
    const len: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    head = Buffer.from([tag, 0x80 | len.length, ...len]);
  }
  return Buffer.concat([head, content]);
}

/** SEQUENCE of the given encodings. */
export function derSequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

/** SET of the given encodings (callers pass one element, so DER's sorting rule never applies). */
export function derSet(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

/** INTEGER from unsigned big-endian bytes: minimal length, a 0x00 prepended when the top bit is set. */
export function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let content = Buffer.from(bytes.subarray(i));
  if (content.length === 0) content = Buffer.from([0]);
  if ((content[0] as number) & 0x80) content = Buffer.concat([Buffer.from([0]), content]);
  return tlv(0x02, content);
}

/** OBJECT IDENTIFIER from dotted text (first two arcs packed as 40·a + b, then base 128). */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const septets: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) septets.unshift(0x80 | (v & 0x7f));
    out.push(...septets);
  }
  return tlv(0x06, Buffer.from(out));
}

/** NULL (the parameters of the RSA algorithm identifiers). */
export function derNull(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

/** UTF8String, the type `openssl req` uses for subject fields (default string_mask utf8only). */
export function derUtf8String(text: string): Buffer {
  return tlv(0x0c, Buffer.from(text, 'utf8'));
}

/** BIT STRING of whole bytes (no unused bits). */
export function derBitString(bytes: Uint8Array): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}

/**
 * An X.509 Time: UTCTime (`YYMMDDhhmmssZ`) for years 1950–2049, GeneralizedTime
 * (`YYYYMMDDhhmmssZ`) otherwise, as RFC 5280 §4.1.2.5 requires. Sub-second parts are dropped.
 */
export function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDThh:mm:ss.sssZ
  const year = date.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  return tlv(0x18, Buffer.from(`${digits}Z`, 'latin1'));
}
