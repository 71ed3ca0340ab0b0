import { api, repoPath } from '../api.js';
import { BarChart } from '../chart.js';
import { bytes, count, when } from '../format.js';
import { ErrorNote, Loading } from '../status.js';
import type { GcReport, GcRun } from '../types.js';
import { useAction } from '../use-action.js';
import { useApi } from '../use-api.js';

/** gc history as a chart of bytes freed per run, the runs' table, and a dry run (admin). */
export function GcPage(props: { fqrn: string }) {
  const { data, error } = useApi<{ retention: { revisions: number; days: number } | null; runs: GcRun[] }>(
    repoPath(props.fqrn, 'gc'),
  );
  const action = useAction();
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const runs = [...data.runs].reverse();
  const dryRun = () =>
    action.run('gc dry run', async () => {
      const r = await api<GcReport>(repoPath(props.fqrn, 'gc'), { method: 'POST' });
      return (
        `dry run: gc would remove ${r.revisionsDropped.length} revision(s), ${count(r.catalogsDeleted)} catalog(s), ` +
        `${count(r.objectsDeleted)} object(s), ${bytes(r.bytesFreed)}; expire ${r.uploadsExpired.length} upload(s)`
      );
    });
  return (
    <>
      <h1>Garbage collection</h1>
      <p class="muted">
        {data.retention
          ? `Keeps the newest ${data.retention.revisions} revision(s), those younger than ${data.retention.days} days, and tagged ones.`
          : 'No retention settings: this data directory does not write this repository.'}
      </p>
      <p>
        <button type="button" disabled={action.busy} onClick={dryRun}>
          Dry run gc
        </button>
      </p>
      {action.note}
      <figure class="panel" data-testid="gc-chart">
        <BarChart
          label="bytes freed by each gc run"
          formatY={bytes}
          bars={runs.map((r) => ({
            key: `${r.startedAt}-${r.seconds}`,
            label: new Date(r.startedAt * 1000).toISOString().slice(5, 10),
            value: r.bytesFreed,
            title: `${when(new Date(r.startedAt * 1000).toISOString())}: ${bytes(r.bytesFreed)} freed`,
          }))}
        />
        <figcaption>Bytes freed by each gc run, oldest first.</figcaption>
      </figure>
      {data.runs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Started</th>
              <th class="num">Revisions</th>
              <th class="num">Catalogs</th>
              <th class="num">Objects</th>
              <th class="num">Freed</th>
              <th class="num">Uploads expired</th>
              <th class="num">Seconds</th>
            </tr>
          </thead>
          <tbody>
            {data.runs.map((r) => (
              <tr key={`${r.startedAt}-${r.seconds}`}>
                <td>{when(new Date(r.startedAt * 1000).toISOString())}</td>
                <td class="num">{count(r.revisionsDropped)}</td>
                <td class="num">{count(r.catalogsDeleted)}</td>
                <td class="num">{count(r.objectsDeleted)}</td>
                <td class="num">{bytes(r.bytesFreed)}</td>
                <td class="num">{count(r.uploadsExpired)}</td>
                <td class="num">{r.seconds.toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
