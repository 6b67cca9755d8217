/**
 * The upload page's states and how events move between them, as a pure reducer: the component only dispatches
 * what happened (a file picked, bytes sent, a status answer) and renders the state.
 *
 *   idle -> signing -> uploading -> following -> finished (succeeded | failed)
 *             \-> refused     \-> upload-failed
 *   idle -> following              (a page opened on ?upload=<id>)
 */
import type { UploadStatusView } from "@sluice/admin";

export interface FileInfo {
  name: string;
  size: number;
  type: string;
}

export type UploadPageState =
  | { kind: "idle" }
  /** Asking the admin server for a signed form. */
  | { kind: "signing"; file: FileInfo }
  /** The admin server refused to sign (too large, not xlsx/csv, ...): nothing was sent anywhere. */
  | { kind: "refused"; file: FileInfo; code: string; message: string }
  /** The bytes are going to S3. */
  | { kind: "uploading"; file: FileInfo; uploadId: string; loaded: number; total: number }
  /** S3 (or the network) refused the PUT. */
  | { kind: "upload-failed"; file: FileInfo; uploadId: string; message: string }
  /** The file is in the bucket; the import is followed through GET /uploads/<id>. */
  | {
      kind: "following";
      file: FileInfo | null;
      uploadId: string;
      status: UploadStatusView | null;
      /** Polls in a row that failed (network, 5xx); the page says so after a few. */
      pollFailures: number;
      pollError: string | null;
    }
  /**
   * The import ended: the status's stage is "succeeded" or "failed". Until the status is `settled` (a failure
   * record lands a moment after the failure) the page keeps asking, and each answer replaces this one.
   */
  | { kind: "finished"; file: FileInfo | null; uploadId: string; status: UploadStatusView }
  /** The upload id the page follows does not exist (or a status answer that is not an error code we expect). */
  | { kind: "lost"; uploadId: string; code: string; message: string };

export type UploadPageEvent =
  | { type: "file-chosen"; file: FileInfo }
  | { type: "form-refused"; code: string; message: string }
  | { type: "form-ready"; uploadId: string }
  | { type: "put-progress"; loaded: number; total: number }
  | { type: "put-done" }
  | { type: "put-failed"; message: string }
  | { type: "follow"; uploadId: string }
  | { type: "status"; status: UploadStatusView }
  | { type: "poll-failed"; message: string }
  | { type: "not-found"; code: string; message: string }
  | { type: "reset" };

export const INITIAL_STATE: UploadPageState = { kind: "idle" };

/** Polls that fail in a row before the page tells the person it is retrying. */
export const POLL_FAILURES_SHOWN = 3;

export function isFinalStage(stage: UploadStatusView["stage"]): boolean {
  return stage === "succeeded" || stage === "failed";
}

/** Whether the page still asks for the status: while following, and after the end until nothing more will change. */
export function isPolling(
  state: UploadPageState,
): state is Extract<UploadPageState, { kind: "following" | "finished" }> {
  return state.kind === "following" || (state.kind === "finished" && !state.status.settled);
}

/** True while a new file may be picked (nothing being sent or signed). */
export function canPickFile(state: UploadPageState): boolean {
  return state.kind !== "signing" && state.kind !== "uploading";
}

export function uploadIdOf(state: UploadPageState): string | null {
  return "uploadId" in state ? state.uploadId : null;
}

/** The next state; an event that does not fit the current state (a late progress event, say) changes nothing. */
export function nextState(state: UploadPageState, event: UploadPageEvent): UploadPageState {
  switch (event.type) {
    case "reset":
      return canPickFile(state) ? INITIAL_STATE : state;
    case "file-chosen":
      return canPickFile(state) ? { kind: "signing", file: event.file } : state;
    case "follow":
      return canPickFile(state)
        ? {
            kind: "following",
            file: null,
            uploadId: event.uploadId,
            status: null,
            pollFailures: 0,
            pollError: null,
          }
        : state;
    case "form-refused":
      return state.kind === "signing"
        ? { kind: "refused", file: state.file, code: event.code, message: event.message }
        : state;
    case "form-ready":
      return state.kind === "signing"
        ? { kind: "uploading", file: state.file, uploadId: event.uploadId, loaded: 0, total: state.file.size }
        : state;
    case "put-progress":
      // Progress never goes back (a retried request would restart at 0; XHR does not retry on its own).
      return state.kind === "uploading"
        ? {
            ...state,
            loaded: Math.max(state.loaded, Math.min(event.loaded, event.total)),
            total: event.total > 0 ? event.total : state.total,
          }
        : state;
    case "put-done":
      return state.kind === "uploading"
        ? {
            kind: "following",
            file: state.file,
            uploadId: state.uploadId,
            status: null,
            pollFailures: 0,
            pollError: null,
          }
        : state;
    case "put-failed":
      return state.kind === "uploading"
        ? { kind: "upload-failed", file: state.file, uploadId: state.uploadId, message: event.message }
        : state;
    case "status":
      if (state.kind === "finished" && !state.status.settled && event.status.uploadId === state.uploadId)
        return { ...state, status: event.status };
      if (state.kind !== "following" || event.status.uploadId !== state.uploadId) return state;
      return isFinalStage(event.status.stage)
        ? { kind: "finished", file: state.file, uploadId: state.uploadId, status: event.status }
        : { ...state, status: event.status, pollFailures: 0, pollError: null };
    case "poll-failed":
      return state.kind === "following"
        ? { ...state, pollFailures: state.pollFailures + 1, pollError: event.message }
        : state;
    case "not-found":
      return state.kind === "following"
        ? { kind: "lost", uploadId: state.uploadId, code: event.code, message: event.message }
        : state;
  }
}

/** The bytes-sent percentage while uploading, 100 once the file is in the bucket, null before. */
export function transferPercent(state: UploadPageState): number | null {
  if (state.kind === "uploading") return state.total > 0 ? (state.loaded / state.total) * 100 : 0;
  if (state.kind === "following" || state.kind === "finished") return 100;
  return null;
}
