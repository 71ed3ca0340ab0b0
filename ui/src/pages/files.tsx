import { repoPath } from '../api.js';
import { bytes, when } from '../format.js';
import { repoHref } from '../routes.js';
import { ErrorNote, Loading } from '../status.js';
import type { BrowsableRoot, DirectoryAnswer } from '../types.js';
import { useApi } from '../use-api.js';

/** A directory of any kept revision or tag, across nested catalogs. */
export function FilesPage(props: { fqrn: string; root: string; path: string }) {
  const roots = useApi<{ roots: BrowsableRoot[] }>(repoPath(props.fqrn, 'revisions'));
  const query = new URLSearchParams({ path: props.path, ...(props.root ? { root: props.root } : {}) });
  const dir = useApi<DirectoryAnswer>(`${repoPath(props.fqrn, 'files')}?${query}`);
  const root = props.root || dir.data?.root.hash || '';
  const href = (path: string) => repoHref(props.fqrn, 'files', { root, path });
  const parts = props.path.split('/').filter(Boolean);
  return (
    <>
      <h1>Files</h1>
      <p class="toolbar">
        <label>
          Revision{' '}
          <select
            name="root"
            value={root}
            onChange={(e) => {
              location.hash = repoHref(props.fqrn, 'files', {
                root: (e.target as HTMLSelectElement).value,
                path: '/',
              });
            }}
          >
            {(roots.data?.roots ?? []).map((r) => (
              <option key={`${r.kind}-${r.name}`} value={r.hash}>
                {r.kind === 'tag'
                  ? `tag ${r.name} (revision ${r.revision})`
                  : r.kind === 'current'
                    ? `revision ${r.revision} (current)`
                    : r.name}
              </option>
            ))}
          </select>
        </label>
      </p>
      <nav class="crumbs" aria-label="path">
        <a href={href('/')}>/</a>
        {parts.map((p, i) => (
          <span key={p + i}>
            <a href={href(`/${parts.slice(0, i + 1).join('/')}`)}>{p}</a>
            {i < parts.length - 1 ? ' / ' : ''}
          </span>
        ))}
      </nav>
      {roots.error && <ErrorNote error={roots.error} />}
      {dir.error ? (
        <ErrorNote error={dir.error} />
      ) : !dir.data ? (
        <Loading />
      ) : (
        <>
          <p class="muted">
            {dir.data.entries.length} {dir.data.entries.length === 1 ? 'entry' : 'entries'}, from the catalog
            at <code data-testid="catalog">{dir.data.catalog}</code>
          </p>
          <div class="scroll">
            <table class="files">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Type</th>
                  <th class="num">Size</th>
                  <th>Mode</th>
                  <th>Modified</th>
                </tr>
              </thead>
              <tbody>
                {dir.data.entries.map((f) => (
                  <tr key={f.path} data-name={f.name}>
                    <td>
                      {f.type === 'dir' ? <a href={href(f.path)}>{f.name}/</a> : f.name}
                      {f.type === 'symlink' && <span class="muted"> → {f.target}</span>}
                      {f.nestedCatalog && <span class="badge">nested catalog</span>}
                    </td>
                    <td>
                      {f.type}
                      {f.chunks > 0 ? ` (${f.chunks} chunks)` : ''}
                    </td>
                    <td class="num">{f.type === 'file' ? bytes(f.size) : ''}</td>
                    <td>
                      <code>{f.mode}</code>
                    </td>
                    <td>{when(f.mtime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
