import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { BargeError } from '../error/index.js';

/**
 * A DUCC wishlist (recipe version 1): which images a repository should hold. Unknown keys are
 * ignored as DUCC ignores them; `user` and `output_format` only matter to DUCC's thin images.
 * Made on first use: yaml and zod load only for `images sync` (0.3 s off every `images add`).
 */
async function wishlistSchema() {
  const { z } = await import('zod');
  return z.looseObject({
    version: z.union([z.number(), z.string()]).optional(),
    user: z.string().optional(),
    cvmfs_repo: z.string(),
    output_format: z.string().optional(),
    input: z.array(z.string()).min(1),
    ignoreErrors: z.boolean().optional(),
  });
}

/** A parsed wishlist. */
export type Wishlist = z.infer<Awaited<ReturnType<typeof wishlistSchema>>>;

/** Reads and validates a wishlist file; errors name the file and the field. */
export async function readWishlist(file: string): Promise<Wishlist> {
  let doc: unknown;
  try {
    const { parse } = await import('yaml');
    doc = parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `cannot read the wishlist ${file}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const parsed = (await wishlistSchema()).safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BargeError(
      'INVALID_ARGUMENT',
      `wishlist ${file}: ${issue?.path.join('.') || 'document'}: ${issue?.message}`,
      {
        hint: 'a wishlist has `version: 1`, `cvmfs_repo: <fqrn>` and an `input:` list of image references',
      },
    );
  }
  return parsed.data;
}

/** Whether a tag matches a wishlist pattern: `*` matches any run of characters, everything else is literal (unlike DUCC, where `.` is a regex). */
export function tagMatches(pattern: string, tag: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(tag);
}

/** Wishlist inputs are written with an optional `https://` as DUCC accepts them. */
export function inputReference(input: string): string {
  return input.trim().replace(/^https?:\/\//, '');
}
