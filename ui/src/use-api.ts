import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api } from './api.js';

/** What a page's data load is: loading, loaded, or failed with the server's error. */
export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  reload: () => void;
}

/** Loads `path` (again whenever it changes or reload() is called). */
export function useApi<T>(path: string): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    api<T>(path).then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      },
      (e: unknown) => {
        if (live) setError(e instanceof ApiError ? e : new ApiError(0, 'NETWORK', String(e)));
      },
    );
    return () => {
      live = false;
    };
  }, [path, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, reload };
}
