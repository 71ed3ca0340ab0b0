import { api, repoPath } from '../api.js';
import { bytes, count, relative, shortDigest, when } from '../format.js';
import { ErrorNote, Loading } from '../status.js';
import type { UploadsAnswer, UploadView } from '../types.js';
import { useAction } from '../use-action.js';
import { useApi } from '../use-api.js';

/** User code uploads by group, with when each expires and its pin. */
export function UploadsPage(props: { fqrn: string }) {
  const { data, error, reload } = useApi<UploadsAnswer>(repoPath(props.fqrn, 'uploads'));
  const action = useAction();
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  if (!data.enabled) {
    return <p class="muted">This repository takes no uploads (barge uploads enable {props.fqrn}).</p>;
  }
  const pin = (u: UploadView, pinned: boolean) =>
    action.run(`${pinned ? 'pinning' : 'unpinning'} ${u.cid}`, async () => {
      const [group, digest] = [u.cid.slice(0, u.cid.length - u.digest.length - 1), u.digest];
      await api(`/api/v1/uploads/${encodeURIComponent(group)}/${encodeURIComponent(digest)}/pin`, {
        method: pinned ? 'PUT' : 'DELETE',
      });
      reload();
      return `${u.cid} ${pinned ? 'pinned: it never expires' : 'unpinned'}`;
    });
  return (
    <>
      <h1>Uploads</h1>
      <p class="muted">
        Under /{data.settings?.prefix}/&lt;group&gt;/, removed after {data.settings?.expiryDays} days without
        use unless pinned.
      </p>
      {action.note}
      {data.groups.length === 0 && <p class="muted">No uploads yet.</p>}
      {data.groups.map((g) => (
        <section key={g.group} class="group">
          <h2>
            {g.group} <span class="muted">{g.uploads.length} upload(s)</span>
          </h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Upload</th>
                  <th class="num">Files</th>
                  <th class="num">Size</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>Expires</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {g.uploads.map((u) => (
                  <tr key={u.cid} data-cid={u.cid}>
                    <td>
                      <code title={u.path}>{shortDigest(u.digest)}</code>
                      {u.state !== 'published' && <span class="badge warn">{u.state}</span>}
                    </td>
                    <td class="num">{count(u.files)}</td>
                    <td class="num">{bytes(u.bytes)}</td>
                    <td title={when(u.created)}>{relative(u.created)}</td>
                    <td title={when(u.lastUsed)}>{relative(u.lastUsed)}</td>
                    <td>
                      {u.pinned ? (
                        <span class="badge ok">pinned</span>
                      ) : (
                        <span title={when(u.expires)}>{u.expires ? relative(u.expires) : '–'}</span>
                      )}
                    </td>
                    <td>
                      <button type="button" disabled={action.busy} onClick={() => pin(u, !u.pinned)}>
                        {u.pinned ? 'Unpin' : 'Pin'}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </>
  );
}
