import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { RequestContext, RouteHandler } from '../server/index.js';
import { sendBody, sendText } from '../server/respond.js';

/** One built file, with the encodings worth sending. */
interface Asset {
  type: string;
  etag: string;
  identity: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names what it builds `assets/<name>-<hash>.<ext>`: a new build means a new name, so they never expire. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The page's own rules: scripts, styles and data from this origin only, never framed. The admin
 * token lives in sessionStorage, so an injected script is what must not run.
 */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The built dashboard (`dist/ui`, made by `vite build`), held in memory with gzip and brotli
 * variants made once at start: it is a few tens of KB, and a slow link gets the smallest encoding
 * its client takes. Hashed assets are cached for a year, index.html is revalidated every time
 * (`no-cache` with an ETag, so a new build shows on the next load and an unchanged one costs a 304).
 */
export class UiAssets {
  private constructor(private readonly files: Map<string, Asset>) {}

  /** Loads every file under `dir`; undefined when the dashboard was not built. */
  static async load(dir: string): Promise<UiAssets | undefined> {
    const files = new Map<string, Asset>();
    let names: string[];
    try {
      names = (await fsp.readdir(dir, { recursive: true })) as string[];
    } catch {
      return undefined;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if (!(await fsp.stat(file)).isFile()) continue;
      const rel = name.split(path.sep).join('/');
      files.set(rel, asset(rel, await fsp.readFile(file)));
    }
    return files.has('index.html') ? new UiAssets(files) : undefined;
  }

  /** Names of the files held (for tests). */
  names(): string[] {
    return [...this.files.keys()].sort();
  }

  /** GET/HEAD of `/ui/*`: `/ui/` is index.html (the pages are routed in the URL fragment). */
  handler(): RouteHandler {
    return (ctx) => {
      const rel = ctx.params['*'] || 'index.html';
      const file = this.files.get(rel);
      if (!file) return sendText(ctx, 404, 'not found\n', { 'Cache-Control': 'no-store' });
      serve(ctx, file, rel === 'index.html');
    };
  }
}

/** `/ui` (no slash): to `/ui/`, so relative asset URLs resolve. */
export function uiRedirect(): RouteHandler {
  return (ctx) => {
    ctx.res.writeHead(308, { Location: '/ui/', 'Content-Length': 0, 'Cache-Control': 'max-age=3600' });
    ctx.res.end();
  };
}

/** Answers for a server whose dashboard was not built (npm run build makes dist/ui). */
export function uiMissing(): RouteHandler {
  return (ctx) =>
    sendText(ctx, 503, 'the dashboard was not built: run npm run build (it writes dist/ui)\n', {
      'Cache-Control': 'no-store',
    });
}

function asset(rel: string, data: Buffer): Asset {
  const type = TYPES[path.extname(rel)] ?? 'application/octet-stream';
  const a: Asset = {
    type,
    // Weak: the same tag names the identity, gzip and brotli forms of one file.
    etag: `W/"${createHash('sha256').update(data).digest('base64url').slice(0, 27)}"`,
    identity: data,
    cacheControl: rel.startsWith('assets/') ? IMMUTABLE : rel === 'index.html' ? 'no-cache' : 'max-age=3600',
  };
  if (/^(text\/|image\/svg|application\/json)/.test(type) && data.length > 256) {
    const gzip = zlib.gzipSync(data, { level: 9 });
    const br = zlib.brotliCompressSync(data, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    });
    if (gzip.length < data.length) a.gzip = gzip;
    if (br.length < (a.gzip ?? data).length) a.br = br;
  }
  return a;
}

function serve(ctx: RequestContext, file: Asset, page: boolean): void {
  const headers: Record<string, string | number> = {
    'Content-Type': file.type,
    'Cache-Control': file.cacheControl,
    ETag: file.etag,
    'X-Content-Type-Options': 'nosniff',
    ...(page ? PAGE_HEADERS : {}),
  };
  if (file.gzip || file.br) headers.Vary = 'Accept-Encoding';
  const match = ctx.req.headers['if-none-match'];
  if (match?.split(',').some((t) => t.trim() === file.etag || t.trim() === '*')) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  const accepted = acceptedEncodings(ctx.req.headers['accept-encoding']);
  let body = file.identity;
  if (file.br && accepted.has('br')) {
    body = file.br;
    headers['Content-Encoding'] = 'br';
  } else if (file.gzip && accepted.has('gzip')) {
    body = file.gzip;
    headers['Content-Encoding'] = 'gzip';
  }
  sendBody(ctx, 200, body, headers);
}

/** Codings of an Accept-Encoding header with a non-zero q (RFC 9110 §12.5.3). */
function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name && (q === undefined || Number(q) > 0)) out.add(name);
  }
  return out;
}
