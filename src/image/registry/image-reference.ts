import { BargeError } from '../../error/index.js';

/** A parsed image reference: where the image lives and which version of it. */
export interface ImageReference {
  /** Host (and port) spoken to over HTTP: `registry-1.docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** The registry as users see it in paths, DUCC-style: `registry.hub.docker.com` for Docker Hub. */
  displayRegistry: string;
  /** The repository inside the registry: `library/ubuntu`. */
  repository: string;
  /** The tag, `latest` when neither a tag nor a digest was given; undefined for a bare digest. */
  tag: string | undefined;
  /** `sha256:<hex>` when pinned; a digest wins over the tag when both are given, as in docker. */
  digest: string | undefined;
  /** `http` or `https` when the text started with a scheme (DUCC wishlists write `https://…`). */
  scheme: 'http' | 'https' | undefined;
}

/** Options of parseImageReference. */
export interface ParseReferenceOptions {
  /** Accept `*` in the tag (DUCC wishlists expand `ubuntu:*` against the tag list). */
  allowWildcardTag?: boolean;
}

/** Docker Hub's HTTP endpoint; `docker.io` itself serves no registry API. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
/** How DUCC writes Docker Hub in repository paths (`/cvmfs/…/registry.hub.docker.com/library/…`). */
export const DOCKER_HUB_DISPLAY = 'registry.hub.docker.com';
/** Every name users write for Docker Hub. */
export const DOCKER_HUB_ALIASES = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
];

// From distribution/reference's grammar (reference/regexp.go).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const WILDCARD_TAG = /^[\w*][\w.*-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
// distribution limits the whole name (domain included) to 255 characters.
const NAME_MAX = 255;

/**
 * Parses an image reference as docker does: `ubuntu:22.04` is Docker Hub's
 * `library/ubuntu:22.04`, a first component with a dot, a colon or `localhost` is a registry
 * host, the tag defaults to `latest`. An optional `https://`/`http://` prefix (DUCC wishlist form)
 * is accepted and remembered.
 */
export function parseImageReference(text: string, options: ParseReferenceOptions = {}): ImageReference {
  const invalid = (why: string) =>
    new BargeError('IMAGE_REFERENCE_INVALID', `'${text}' is not an image reference: ${why}`, {
      hint: 'write [registry[:port]/]repository[:tag][@sha256:<digest>], e.g. ubuntu:22.04 or ghcr.io/org/image@sha256:…',
      details: { reference: text },
    });
  let rest = text.trim();
  let scheme: ImageReference['scheme'];
  const schemeMatch = /^(https?):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1] as 'http' | 'https';
    rest = rest.slice(schemeMatch[0].length);
  }
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(`'${digest}' is not a sha256 or sha512 digest in lower-case hex`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!(options.allowWildcardTag ? WILDCARD_TAG : TAG).test(tag))
      throw invalid(`'${tag}' is not a valid tag`);
  }
  if (rest === '') throw invalid('the repository name is empty');

  // docker's rule (reference/normalize.go splitDockerDomain): the first component names a host
  // if it has a dot or a colon, is `localhost`, or has upper case (which no repository may have).
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  const isHost =
    slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  let host = isHost ? first.toLowerCase() : 'docker.io';
  let repository = isHost ? rest.slice(slash + 1) : rest;
  if (isHost && !DOMAIN.test(first)) throw invalid(`'${first}' is not a registry host`);
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(`'${component}' is not a repository path component (lower-case letters, digits, . _ -)`);
    }
  }
  const hub = DOCKER_HUB_ALIASES.includes(host);
  if (hub) {
    host = DOCKER_HUB_REGISTRY;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (`${hub ? 'docker.io' : host}/${repository}`.length > NAME_MAX) {
    throw invalid(`the name is longer than ${NAME_MAX} characters`);
  }
  return {
    registry: host,
    displayRegistry: hub ? DOCKER_HUB_DISPLAY : host,
    repository,
    tag: tag ?? (digest === undefined ? 'latest' : undefined),
    digest,
    scheme,
  };
}

/**
 * The reference as text. `canonical` is docker's fully qualified form
 * (`docker.io/library/ubuntu:22.04`); `display` is DUCC's path form
 * (`registry.hub.docker.com/library/ubuntu:22.04`); `repository` leaves out tag and digest.
 */
export function formatImageReference(
  ref: ImageReference,
  form: 'canonical' | 'display' | 'repository' = 'canonical',
): string {
  const host =
    form === 'display'
      ? ref.displayRegistry
      : ref.registry === DOCKER_HUB_REGISTRY
        ? 'docker.io'
        : ref.registry;
  const name = `${host}/${ref.repository}`;
  if (form === 'repository') return name;
  return `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** A reference given as text or already parsed. */
export function toImageReference(ref: ImageReference | string): ImageReference {
  return typeof ref === 'string' ? parseImageReference(ref) : ref;
}

/** True for digests barge can verify (`sha256:` or `sha512:` with lower-case hex). */
export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}
