/** @jsxImportSource preact */
/**
 * The upload page: pick or drop a workbook, watch its bytes go straight to S3 (the signed PUT), then the import
 * (stage, chunks, rows, rate, ETA), then the summary with the first rejected rows and the report link, or the
 * failure with the rows rejected before it. The logic lives in plain modules (upload-flow.ts, xhr-upload.ts,
 * api.ts, format.ts); this file renders.
 */
import type { UploadStatusView } from "@sluice/admin";
import { render } from "preact";
import { useEffect, useReducer, useState } from "preact/hooks";
import { ApiError, uploadsApi } from "./api.ts";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
  formatTime,
  STAGE_LABELS,
} from "./format.ts";
import { PageHeader } from "./page-header.tsx";
import {
  canPickFile,
  type FileInfo,
  INITIAL_STATE,
  isPolling,
  nextState,
  POLL_FAILURES_SHOWN,
  transferPercent,
  type UploadPageState,
} from "./upload-flow.ts";
import { putToSignedUrl } from "./xhr-upload.ts";

const POLL_INTERVAL_MS = 1000;
const api = uploadsApi((url, init) => fetch(url, init));
const locale = typeof navigator === "undefined" ? "en" : navigator.language;

function UploadPage({ maxBytes, accept }: { maxBytes: number; accept: string }) {
  const [state, dispatch] = useReducer(nextState, INITIAL_STATE);
  const [dragging, setDragging] = useState(false);

  // A page opened on ?upload=<id> (a reload, or a link from the operators' view) follows that upload.
  useEffect(() => {
    const uploadId = new URLSearchParams(location.search).get("upload");
    if (uploadId) dispatch({ type: "follow", uploadId });
  }, []);

  // Following: ask for the status about once a second until the import ends and its outcome is settled.
  const followedId = state.kind === "following" ? state.uploadId : null;
  useEffect(() => {
    if (!isPolling(state)) return;
    let cancelled = false;
    const delay =
      state.kind === "following" && state.status === null && state.pollFailures === 0 ? 0 : POLL_INTERVAL_MS;
    const timer = setTimeout(async () => {
      try {
        const status = await api.status(state.uploadId);
        if (!cancelled) dispatch({ type: "status", status });
      } catch (error) {
        if (cancelled) return;
        if (error instanceof ApiError && error.status === 404) {
          dispatch({ type: "not-found", code: error.code, message: error.message });
        } else dispatch({ type: "poll-failed", message: (error as Error).message });
      }
    }, delay);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [state]);

  useEffect(() => {
    if (followedId) history.replaceState(null, "", `?upload=${encodeURIComponent(followedId)}`);
  }, [followedId]);

  const send = async (file: File) => {
    if (!canPickFile(state)) return;
    const info: FileInfo = { name: file.name, size: file.size, type: file.type };
    dispatch({ type: "file-chosen", file: info });
    let form: Awaited<ReturnType<typeof api.createForm>>;
    try {
      form = await api.createForm({ fileName: file.name, size: file.size, contentType: file.type });
    } catch (error) {
      const code = error instanceof ApiError ? error.code : "NETWORK";
      dispatch({ type: "form-refused", code, message: (error as Error).message });
      return;
    }
    dispatch({ type: "form-ready", uploadId: form.uploadId });
    try {
      await putToSignedUrl(form, {
        body: file,
        createXhr: () => new XMLHttpRequest(),
        onProgress: (p) => dispatch({ type: "put-progress", loaded: p.loaded, total: p.total }),
      });
      dispatch({ type: "put-progress", loaded: file.size, total: file.size });
      dispatch({ type: "put-done" });
    } catch (error) {
      dispatch({ type: "put-failed", message: (error as Error).message });
    }
  };

  const picking = canPickFile(state);
  return (
    <>
      <PageHeader current="upload" />
      <main>
        <h1>Upload orders</h1>
        <section
          class={`drop-zone${dragging ? " dragging" : ""}`}
          aria-labelledby="pick-heading"
          onDragOver={(event) => {
            event.preventDefault();
            if (picking) setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(event) => {
            event.preventDefault();
            setDragging(false);
            const file = event.dataTransfer?.files[0];
            if (file) void send(file);
          }}
        >
          <h2 id="pick-heading">Choose a workbook</h2>
          <label for="workbook">Excel (.xlsx) or CSV file, up to {formatBytes(maxBytes, locale)}</label>
          <input
            id="workbook"
            type="file"
            accept={accept}
            disabled={!picking}
            onChange={(event) => {
              const input = event.currentTarget;
              const file = input.files?.[0];
              if (file) void send(file);
              input.value = ""; // the same file may be picked again
            }}
          />
          <p class="hint">or drop it here. It goes straight to storage, not through this server.</p>
        </section>
        <Progress state={state} />
      </main>
    </>
  );
}

function Progress({ state }: { state: UploadPageState }) {
  const file = "file" in state ? state.file : null;
  const sent = transferPercent(state);
  return (
    <>
      <div class="announcer" aria-live="polite">
        {state.kind === "signing" && <p>Preparing the upload of {state.file.name}…</p>}
      </div>
      {state.kind === "refused" && (
        <div class="notice error" role="alert" id="refused">
          <h2>{state.file.name} was not accepted</h2>
          <p>{state.message}</p>
          <p class="code">{state.code}</p>
        </div>
      )}
      {file && sent !== null && (
        <section aria-labelledby="transfer-heading" class="panel">
          <h2 id="transfer-heading">
            Sending {file.name} ({formatBytes(file.size, locale)})
          </h2>
          <label for="upload-progress">File sent</label>
          <progress
            id="upload-progress"
            max={100}
            value={Math.floor(sent)}
            aria-valuetext={formatPercent(sent)}
          />
          <p class="figure" id="upload-percent">
            {formatPercent(sent)}
          </p>
        </section>
      )}
      {state.kind === "upload-failed" && (
        <div class="notice error" role="alert" id="upload-failed">
          <h2>The file was not stored</h2>
          <p>{state.message}</p>
        </div>
      )}
      {state.kind === "lost" && (
        <div class="notice error" role="alert">
          <h2>Upload {state.uploadId} not found</h2>
          <p>{state.message}</p>
        </div>
      )}
      {state.kind === "following" && (
        <ImportProgress
          uploadId={state.uploadId}
          status={state.status}
          retrying={state.pollFailures >= POLL_FAILURES_SHOWN ? state.pollError : null}
        />
      )}
      {state.kind === "finished" && <ImportResult status={state.status} />}
    </>
  );
}

function ImportProgress(props: {
  uploadId: string;
  status: UploadStatusView | null;
  retrying: string | null;
}) {
  const { status } = props;
  return (
    <section aria-labelledby="import-heading" class="panel" id="import">
      <h2 id="import-heading">Import of {status?.fileName ?? props.uploadId}</h2>
      <p aria-live="polite" class="stage" id="stage">
        {status ? STAGE_LABELS[status.stage] : "Checking…"}
      </p>
      <label for="import-progress">Rows imported</label>
      {status?.percent == null ? (
        <progress id="import-progress" aria-valuetext="not known yet" />
      ) : (
        <progress
          id="import-progress"
          max={100}
          value={Math.floor(status.percent)}
          aria-valuetext={formatPercent(status.percent)}
        />
      )}
      {status && <Figures status={status} />}
      {props.retrying && (
        <p class="notice warning" role="status">
          Lost contact with the server, retrying… ({props.retrying})
        </p>
      )}
    </section>
  );
}

function Figures({ status }: { status: UploadStatusView }) {
  const { chunks, rows, totals } = status;
  return (
    <dl class="figures">
      <div>
        <dt>Progress</dt>
        <dd>{formatPercent(status.percent)}</dd>
      </div>
      <div>
        <dt>Chunks</dt>
        <dd>
          {formatCount(chunks.done, locale)} of {totals ? formatCount(totals.chunks, locale) : "?"} done
          {chunks.inFlight > 0 && `, ${formatCount(chunks.inFlight, locale)} in progress`}
          {chunks.failed > 0 && `, ${formatCount(chunks.failed, locale)} failed`}
        </dd>
      </div>
      <div>
        <dt>Rows</dt>
        <dd>
          {rows.done === null ? "–" : formatCount(rows.done, locale)} of{" "}
          {totals ? formatCount(totals.rows, locale) : "?"}
        </dd>
      </div>
      <div>
        <dt>Speed</dt>
        <dd>{formatRate(status.rowsPerSecond, locale)}</dd>
      </div>
      <div>
        <dt>Time left</dt>
        <dd>{formatDuration(status.etaSeconds)}</dd>
      </div>
    </dl>
  );
}

function ImportResult({ status }: { status: UploadStatusView }) {
  const ok = status.stage === "succeeded";
  return (
    <section aria-labelledby="result-heading" class="panel" id="result" data-stage={status.stage}>
      <h2 id="result-heading">
        {ok ? "Import finished" : "Import failed"}: {status.fileName ?? status.uploadId}
      </h2>
      {ok ? (
        <p class="notice success" role="status" id="summary">
          {formatCount(status.totals?.rows ?? 0, locale)} rows:{" "}
          {formatCount(status.rows.accepted ?? 0, locale)} imported,{" "}
          {formatCount(status.rows.rejected ?? 0, locale)} rejected.
        </p>
      ) : (
        <div class="notice error" role="alert" id="failure">
          <p>
            <strong>{status.failure?.code ?? status.executionStatus}</strong>
            {status.failure?.chunkIndex != null && ` in chunk ${status.failure.chunkIndex}`}
          </p>
          <p>{status.failure?.message ?? "The import stopped."}</p>
          {status.rows.accepted !== null && (
            <p>
              Before it stopped: {formatCount(status.rows.accepted, locale)} rows imported,{" "}
              {formatCount(status.rows.rejected ?? 0, locale)} rejected. An operator can run the rest again.
            </p>
          )}
        </div>
      )}
      <dl class="figures">
        <div>
          <dt>Started</dt>
          <dd>{formatTime(status.startedAt, locale)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatTime(status.stoppedAt, locale)}</dd>
        </div>
        <div>
          <dt>Chunks</dt>
          <dd>
            {formatCount(status.chunks.done, locale)} of{" "}
            {status.totals ? formatCount(status.totals.chunks, locale) : "?"}
          </dd>
        </div>
      </dl>
      {status.fileWarnings.length > 0 && (
        <ul class="warnings">
          {status.fileWarnings.map((w) => (
            <li key={w.code}>
              <span class="code">{w.code}</span> {w.message}
            </li>
          ))}
        </ul>
      )}
      {status.rejectedSample.length > 0 && (
        <div class="table-wrap">
          <table id="rejected-rows" class="stack-narrow">
            <caption>
              First rejected rows{ok ? "" : " before the import stopped"}
              {status.rows.rejected !== null && status.rows.rejected > status.rejectedSample.length
                ? ` (${formatCount(status.rejectedSample.length, locale)} of ${formatCount(status.rows.rejected, locale)}; all of them in the report)`
                : ""}
            </caption>
            <thead>
              <tr>
                <th scope="col">Row</th>
                <th scope="col">Problem</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {status.rejectedSample.map((r) => (
                <tr key={`${r.chunkIndex}-${r.row}`}>
                  <td data-label="Row">{r.row}</td>
                  <td data-label="Problem" class="code">
                    {r.code}
                  </td>
                  <td data-label="Reason">{r.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {status.reportUrl && (
        <p>
          <a href={status.reportUrl} id="report-link">
            Download the rejected-rows report
          </a>
        </p>
      )}
      {status.consoleUrl && (
        <p class="hint">
          For operators:{" "}
          <a href={status.consoleUrl} id="console-link" rel="noreferrer" target="_blank">
            Open in the Step Functions console
          </a>
        </p>
      )}
      <p>
        <a href="/">Upload another file</a>
      </p>
    </section>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(
    <UploadPage maxBytes={Number(root.dataset.maxBytes)} accept={root.dataset.accept ?? ".xlsx,.csv"} />,
    root,
  );
}
