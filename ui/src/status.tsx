import type { ApiError } from './api.js';

/** A failed load or refused action, with the server's code and hint. */
export function ErrorNote(props: { error: ApiError; action?: string }) {
  const e = props.error;
  return (
    <p class="note error" role="alert">
      {props.action ? `${props.action} refused: ` : ''}
      <code>{e.code}</code> {e.message}
      {e.hint ? <span class="hint"> ({e.hint})</span> : null}
    </p>
  );
}

/** An action's result. */
export function OkNote(props: { text: string }) {
  return (
    <p class="note ok" role="status">
      {props.text}
    </p>
  );
}

/** Until the first answer. */
export function Loading() {
  return <p class="muted">Loading…</p>;
}
