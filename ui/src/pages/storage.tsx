import { repoPath } from '../api.js';
import { LineChart } from '../chart.js';
import { bytes, count, when } from '../format.js';
import { ErrorNote, Loading } from '../status.js';
import type { Sample } from '../types.js';
import { useApi } from '../use-api.js';

/** Storage used against logical size over time, and the newest sample's exact numbers. */
export function StoragePage(props: { fqrn: string }) {
  const { data, error } = useApi<{ latest: Sample | null; samples: Sample[] }>(repoPath(props.fqrn, 'stats'));
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const s = data.latest;
  const ratio = s && s.storedBytes > 0 ? s.logicalBytes / s.storedBytes : null;
  return (
    <>
      <h1>Storage</h1>
      <figure class="panel" data-testid="dedup-chart">
        <LineChart
          label="stored bytes and logical bytes over time"
          formatY={bytes}
          series={[
            {
              name: 'logical',
              className: 's-1',
              points: data.samples.map((x) => ({ x: x.at, y: x.logicalBytes })),
            },
            {
              name: 'stored',
              className: 's-2',
              points: data.samples.map((x) => ({ x: x.at, y: x.storedBytes })),
            },
          ]}
        />
        <figcaption>
          <span class="key s-1">logical size of the current revision</span>
          <span class="key s-2">stored under data/ (compressed, deduplicated, every kept revision)</span>
        </figcaption>
        <p class="muted">
          The dedup ratio is logical bytes per stored byte: above 1 when compression and shared content save
          space, below 1 while older revisions or uncompressible files take more than they share.
        </p>
      </figure>
      {s && (
        <table class="facts" data-testid="dedup-latest">
          <tbody>
            <tr>
              <th>Sampled</th>
              <td>
                {when(new Date(s.at * 1000).toISOString())}, revision {s.revision}
              </td>
            </tr>
            <tr>
              <th>Objects of the revision</th>
              <td data-testid="objects">{count(s.objects)}</td>
            </tr>
            <tr>
              <th>Logical bytes</th>
              <td>
                <span data-testid="logical-bytes">{count(s.logicalBytes)}</span> ({bytes(s.logicalBytes)},{' '}
                {count(s.files)} files)
              </td>
            </tr>
            <tr>
              <th>Stored</th>
              <td>
                <span data-testid="stored-bytes">{count(s.storedBytes)}</span> bytes ({bytes(s.storedBytes)})
                in {count(s.storedObjects)} objects
              </td>
            </tr>
            <tr>
              <th>Dedup ratio</th>
              <td data-testid="dedup-ratio">{ratio === null ? '–' : `${ratio.toFixed(2)}×`}</td>
            </tr>
          </tbody>
        </table>
      )}
    </>
  );
}
