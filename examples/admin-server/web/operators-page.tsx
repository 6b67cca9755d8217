/** @jsxImportSource preact */
/**
 * The operators' view: recent uploads with their status, the failed chunk and error of a failed one, and a
 * Redrive button that runs a failed upload's unfinished chunks again (once its cause is fixed).
 */
import type { UploadListItem } from "@sluice/admin";
import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { uploadsApi } from "./api.ts";
import { formatTime, STAGE_LABELS } from "./format.ts";
import { canRedrive, describeFailure, STATUS_FILTERS, sortUploads } from "./operators-view.ts";
import { PageHeader } from "./page-header.tsx";

const REFRESH_MS = 3000;
const api = uploadsApi((url, init) => fetch(url, init));
const locale = typeof navigator === "undefined" ? "en" : navigator.language;

function OperatorsPage() {
  const [status, setStatus] = useState("");
  const [uploads, setUploads] = useState<UploadListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setUploads(sortUploads(await api.list(status ? { status } : {})));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [status]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const redrive = async (uploadId: string) => {
    setBusy(uploadId);
    setMessage(null);
    try {
      const result = await api.redrive(uploadId);
      setMessage(`Redrive of ${uploadId} started at ${formatTime(result.redriveDate, locale)}.`);
      setError(null);
    } catch (e) {
      setError(`Redrive of ${uploadId} refused: ${(e as Error).message}`);
    } finally {
      setBusy(null);
      await refresh();
    }
  };

  return (
    <>
      <PageHeader current="operators" />
      <main>
        <h1>Uploads</h1>
        <div class="toolbar">
          <label for="status-filter">Status</label>
          <select
            id="status-filter"
            value={status}
            onChange={(event) => setStatus(event.currentTarget.value)}
          >
            {STATUS_FILTERS.map((s) => (
              <option key={s} value={s}>
                {s === "" ? "All" : s}
              </option>
            ))}
          </select>
          <button type="button" onClick={() => void refresh()}>
            Refresh
          </button>
        </div>
        <div aria-live="polite" class="announcer">
          {message && (
            <p class="notice success" id="operator-message">
              {message}
            </p>
          )}
        </div>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        {uploads === null ? (
          <p>Loading…</p>
        ) : uploads.length === 0 ? (
          <p>No uploads{status ? ` with status ${status}` : ""}.</p>
        ) : (
          <div class="table-wrap">
            <table id="uploads" class="stack-narrow">
              <caption>Recent uploads, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Upload</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Finished</th>
                  <th scope="col">Problem</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {uploads.map((u) => (
                  <tr key={u.uploadId} data-upload-id={u.uploadId}>
                    <td data-label="Upload">
                      <a href={`/?upload=${encodeURIComponent(u.uploadId)}`}>{u.uploadId}</a>
                    </td>
                    <td data-label="Status">
                      <span class={`status status-${u.executionStatus.toLowerCase()}`}>
                        {u.executionStatus}
                      </span>
                      <span class="stage-note"> {STAGE_LABELS[u.stage]}</span>
                    </td>
                    <td data-label="Started">{formatTime(u.startedAt, locale)}</td>
                    <td data-label="Finished">{formatTime(u.stoppedAt, locale)}</td>
                    <td data-label="Problem" class={u.failure ? "problem" : undefined}>
                      {describeFailure(u) || "–"}
                    </td>
                    <td data-label="Action">
                      {canRedrive(u) ? (
                        <button
                          type="button"
                          disabled={busy !== null}
                          aria-label={`Redrive ${u.uploadId}`}
                          onClick={() => void redrive(u.uploadId)}
                        >
                          {busy === u.uploadId ? "Redriving…" : "Redrive"}
                        </button>
                      ) : (
                        "–"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<OperatorsPage />, root);
}
