/** The dashboard's calls to barge serve: JSON in, JSON out, the admin token from sessionStorage. */

const TOKEN_KEY = 'barge.adminToken';

/** The admin token entered in this tab (sessionStorage: gone when the tab closes), or ''. */
export function adminToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** Keeps (or with '' forgets) the admin token for this tab. */
export function setAdminToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer that was not 2xx, with the server's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Calls the API; rejects with an ApiError carrying `{error: {code, message}}` of a refusal. */
export async function api<T>(path: string, init: { method?: string } = {}): Promise<T> {
  const token = adminToken();
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: {
      Accept: 'application/json',
      ...(token && init.method && init.method !== 'GET' ? { Authorization: `Bearer ${token}` } : {}),
    },
  });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.hint);
  }
  return body as T;
}

/** `/api/v1/ui/repositories/<fqrn>/<sub>`. */
export function repoPath(fqrn: string, sub: string): string {
  return `/api/v1/ui/repositories/${encodeURIComponent(fqrn)}/${sub}`;
}
