/** The dashboard's pages live in the URL fragment (`#/repo/<fqrn>/<page>?query`), so the server serves one file. */

/** The pages of one repository, with their tab labels. */
export const REPO_PAGES = [
  ['images', 'Images'],
  ['uploads', 'Uploads'],
  ['storage', 'Storage'],
  ['gc', 'GC'],
  ['files', 'Files'],
] as const;

export type RepoPage = (typeof REPO_PAGES)[number][0];

/** Where the fragment points: the overview, or a page of one repository. */
export type Route = { page: 'overview' } | { page: RepoPage; fqrn: string; query: URLSearchParams };

/** Reads a fragment; anything unknown is the overview. */
export function parseHash(hash: string): Route {
  const m = /^#\/repo\/([^/?]+)\/([a-z]+)(?:\?(.*))?$/.exec(hash);
  const page = REPO_PAGES.find(([p]) => p === m?.[2])?.[0];
  if (!m || !page) return { page: 'overview' };
  return { page, fqrn: decodeURIComponent(m[1] as string), query: new URLSearchParams(m[3] ?? '') };
}

/** The link to a repository page. */
export function repoHref(fqrn: string, page: RepoPage, query?: Record<string, string>): string {
  const q = query ? `?${new URLSearchParams(query)}` : '';
  return `#/repo/${encodeURIComponent(fqrn)}/${page}${q}`;
}
