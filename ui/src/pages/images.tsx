import { useState } from 'preact/hooks';
import { api, repoPath } from '../api.js';
import { bytes, count, relative, shortDigest, when } from '../format.js';
import { ErrorNote, Loading } from '../status.js';
import type { ImageView } from '../types.js';
import { useAction } from '../use-action.js';
import { useApi } from '../use-api.js';

/** The images of a repository: reference, digest, architectures, size, files, last sync, errors. */
export function ImagesPage(props: { fqrn: string }) {
  const { data, error, reload } = useApi<{ revision: number; images: ImageView[] }>(
    repoPath(props.fqrn, 'images'),
  );
  const action = useAction();
  const [confirming, setConfirming] = useState('');
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const remove = (reference: string) =>
    action.run(`removing ${reference}`, async () => {
      const r = await api<{ revision: number }>(
        `${repoPath(props.fqrn, 'images')}?reference=${encodeURIComponent(reference)}`,
        { method: 'DELETE' },
      );
      setConfirming('');
      reload();
      return `removed ${reference} in revision ${r.revision}; its files go at the next gc`;
    });
  return (
    <>
      <h1>Images</h1>
      <p class="muted">
        Revision {data.revision}: {data.images.length} image(s).
      </p>
      {action.note}
      {data.images.length === 0 ? (
        <p class="muted">No images: add them with barge images add or sync a wishlist.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Reference</th>
                <th>Digest</th>
                <th>Arch</th>
                <th class="num">Size</th>
                <th class="num">Files</th>
                <th>Last sync</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.images.map((i) => (
                <tr key={i.reference} data-reference={i.reference}>
                  <td class="ref">{i.reference}</td>
                  <td>
                    <code title={i.sourceDigest}>{shortDigest(i.sourceDigest)}</code>
                  </td>
                  <td>{i.architectures.join(', ') || '–'}</td>
                  <td class="num" title={i.bytes === null ? '' : `${count(i.bytes)} bytes`}>
                    {bytes(i.bytes)}
                  </td>
                  <td class="num">{count(i.files)}</td>
                  <td title={when(i.lastSync)}>{relative(i.lastSync)}</td>
                  <td>
                    {i.error ? (
                      <span class="badge bad" title={i.error.message}>
                        {i.error.code}
                      </span>
                    ) : (
                      <span class="badge ok">{i.syncStatus ?? 'published'}</span>
                    )}
                  </td>
                  <td>
                    {i.root &&
                      (confirming === i.reference ? (
                        <button
                          type="button"
                          class="danger"
                          disabled={action.busy}
                          onClick={() => remove(i.reference)}
                        >
                          Confirm remove
                        </button>
                      ) : (
                        <button type="button" onClick={() => setConfirming(i.reference)}>
                          Remove
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
