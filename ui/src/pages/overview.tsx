import { bytes, count, relative, span, when } from '../format.js';
import { repoHref } from '../routes.js';
import { ErrorNote, Loading } from '../status.js';
import type { RepositorySummary } from '../types.js';
import { useApi } from '../use-api.js';

/** Every repository at a glance: revision, age, whitelist, tags, storage, uploads. */
export function OverviewPage() {
  const { data, error } = useApi<{ now: string; repositories: RepositorySummary[] }>(
    '/api/v1/ui/repositories',
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  if (data.repositories.length === 0) {
    return <p class="muted">No repositories yet: create one with barge init.</p>;
  }
  return (
    <>
      <h1>Repositories</h1>
      <div class="cards">
        {data.repositories.map((r) => (
          <Card key={r.fqrn} r={r} />
        ))}
      </div>
    </>
  );
}

function Whitelist(props: { w: RepositorySummary['whitelist'] }) {
  const w = props.w;
  if (!w) return <span class="badge bad">no whitelist</span>;
  if (w.expired) return <span class="badge bad">expired {when(w.expires)}: run barge resign</span>;
  const text = `expires ${relative(w.expires)}`;
  return w.warning ? (
    <span class="badge warn" data-testid="whitelist-warning" title={when(w.expires)}>
      {text}: run barge resign
    </span>
  ) : (
    <span class="badge ok" title={when(w.expires)}>
      {text}
    </span>
  );
}

function Card(props: { r: RepositorySummary }) {
  const r = props.r;
  const s = r.stats;
  return (
    <section class="card" data-fqrn={r.fqrn}>
      <h2>
        <a href={repoHref(r.fqrn, 'images')}>{r.fqrn}</a>
      </h2>
      <dl>
        <dt>Revision</dt>
        <dd>
          {r.revision} <span class="muted">published {span(r.manifestAgeSeconds)} ago</span>
        </dd>
        <dt>Whitelist</dt>
        <dd>
          <Whitelist w={r.whitelist} />
        </dd>
        <dt>Tags</dt>
        <dd>
          {r.tags.length === 0
            ? '–'
            : r.tags.map((t) => (
                <span key={t.name} class="chip" title={t.description}>
                  {t.name}@{t.revision}
                </span>
              ))}
        </dd>
        <dt>Storage</dt>
        <dd>
          {s ? (
            <a href={repoHref(r.fqrn, 'storage')}>
              {bytes(s.logicalBytes)} in {bytes(s.storedBytes)} stored (
              {s.storedBytes > 0 ? (s.logicalBytes / s.storedBytes).toFixed(2) : '–'}×)
            </a>
          ) : (
            '–'
          )}
        </dd>
        <dt>Uploads</dt>
        <dd>
          {r.uploads ? (
            <a href={repoHref(r.fqrn, 'uploads')}>
              /{r.uploads.prefix}, expire after {r.uploads.expiryDays} days idle
            </a>
          ) : (
            'not taken'
          )}
        </dd>
        <dt>GC</dt>
        <dd>
          <a href={repoHref(r.fqrn, 'gc')}>
            {count(r.gcRuns)} run(s){r.lastGc ? `, last ${relative(r.lastGc)}` : ''}
          </a>
        </dd>
      </dl>
    </section>
  );
}
