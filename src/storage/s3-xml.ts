/**
 * The little XML the S3 API speaks, read and written without a parser: answers are flat
 * documents of known elements (ListBucketResult, DeleteResult, Error, InitiateMultipartUploadResult),
 * and element text never holds markup, only the five predefined entities and character references.
 */

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text of an element, with entities and character references decoded. */
export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    return ENTITIES[name] as string;
  });
}

/** Text safe inside an element. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
}

/** The raw contents of every `<tag>…</tag>` (or `<tag/>`, as '') in `xml`, in order; tags do not nest. */
export function xmlBlocks(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

/** The decoded text of the first `<tag>`, or undefined. */
export function xmlValue(xml: string, tag: string): string | undefined {
  const block = xmlBlocks(xml, tag)[0];
  return block === undefined ? undefined : xmlUnescape(block);
}
