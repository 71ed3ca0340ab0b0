import { useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { ErrorNote, OkNote } from './status.js';

type Outcome = { ok: string } | { error: ApiError; action: string };

/** An admin action's state: run(name, work) shows work's result text, or the refusal. */
export function useAction() {
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = async (action: string, work: () => Promise<string>) => {
    setBusy(true);
    try {
      setOutcome({ ok: await work() });
    } catch (e) {
      setOutcome({ error: e instanceof ApiError ? e : new ApiError(0, 'NETWORK', String(e)), action });
    } finally {
      setBusy(false);
    }
  };
  const note = !outcome ? null : 'ok' in outcome ? (
    <OkNote text={outcome.ok} />
  ) : (
    <ErrorNote error={outcome.error} action={outcome.action} />
  );
  return { note, busy, run };
}
