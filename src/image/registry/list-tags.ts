import { BargeError } from '../../error/index.js';
import { formatImageReference, type ImageReference } from './image-reference.js';
import { notFoundError, type RegistryHttp } from './registry-http.js';

// A page of tags is small JSON; the limit only bounds memory on a hostile answer.
const PAGE_LIMIT = 16 << 20;

/**
 * Every tag of a repository (GET /v2/<name>/tags/list), page by page: distribution answers `n`
 * tags at most and points to the next page with a Link header (distribution spec, "Listing Tags").
 * DUCC's wildcard tags expand against this list.
 */
export async function listTags(http: RegistryHttp, ref: ImageReference, pageSize: number): Promise<string[]> {
  const name = formatImageReference(ref, 'repository');
  let path = `/v2/${ref.repository}/tags/list?n=${pageSize}`;
  const base = new URL(http.baseUrl(ref));
  const seen = new Set<string>();
  const tags: string[] = [];
  while (!seen.has(path)) {
    seen.add(path);
    const { res, body } = await http.fetchBody(
      {
        ref,
        what: `the tags of ${name}`,
        method: 'GET',
        path,
        headers: { Accept: 'application/json' },
        notFound: (message) => notFoundError(ref, `the repository ${name}`, message),
      },
      PAGE_LIMIT,
    );
    let page: unknown;
    try {
      page = JSON.parse(body.toString('utf8'));
    } catch {
      page = undefined;
    }
    const list = (page as { tags?: unknown } | undefined)?.tags;
    if (list !== null && !(Array.isArray(list) && list.every((t) => typeof t === 'string'))) {
      throw new BargeError(
        'REGISTRY_PROTOCOL_ERROR',
        `${ref.registry} answered the tag list of ${name} without a tags array`,
        {
          hint: 'the registry does not follow the distribution API; report it to its operator',
          details: { registry: ref.registry },
        },
      );
    }
    tags.push(...(list ?? []));
    const link = res.headers.link;
    const next = nextLink(Array.isArray(link) ? link.join(', ') : link);
    if (next === undefined) break;
    const url = new URL(next, base);
    // The next page stays on the registry: the token must not follow a link elsewhere, and a
    // silently shortened list would make wildcard tags miss versions.
    if (url.origin !== base.origin) {
      throw new BargeError(
        'REGISTRY_PROTOCOL_ERROR',
        `${ref.registry} links the tag list of ${name} to ${url.origin}`,
        {
          hint: 'the registry sends tag list pages to another host, which barge does not follow; report it to its operator',
          details: { registry: ref.registry, next: url.origin },
        },
      );
    }
    path = `${url.pathname}${url.search}`;
  }
  return tags;
}

/** The target of `rel="next"` in a Link header (RFC 8288), as distribution sends for tag lists. */
function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel="?next"?/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}
