/**
 * The page's calls to its admin server (same origin): the signed form, an upload's status, the operators' list
 * and redrive. Errors come back as `{ code, error }` with a code from sluice's ERROR_CODES; ApiError keeps both.
 */
import type { UploadForm, UploadListItem, UploadStatusView } from "@sluice/admin";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The error code the server sent (`UPLOAD_TOO_LARGE`...), or `HTTP_<status>` when it sent none. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export interface UploadFormBody {
  fileName: string;
  size: number;
  contentType: string;
}

export interface UploadsApi {
  createForm(body: UploadFormBody): Promise<UploadForm>;
  status(uploadId: string): Promise<UploadStatusView>;
  list(query?: { status?: string; since?: string }): Promise<UploadListItem[]>;
  redrive(uploadId: string): Promise<{ uploadId: string; redriveDate: string }>;
}

export function uploadsApi(fetchFn: FetchLike, base = ""): UploadsApi {
  const call = async <T>(path: string, init?: { method: string; body: unknown }): Promise<T> => {
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await fetchFn(`${base}${path}`, {
        method: init?.method ?? "GET",
        headers: {
          accept: "application/json",
          ...(init?.body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(init?.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
    } catch (error) {
      throw new ApiError(0, "NETWORK", `The admin server did not answer (${(error as Error).message}).`);
    }
    const body = (await response.json().catch(() => null)) as { code?: unknown; error?: unknown } | null;
    if (!response.ok) {
      const code = typeof body?.code === "string" ? body.code : `HTTP_${response.status}`;
      const message =
        typeof body?.error === "string" ? body.error : `The admin server answered ${response.status}.`;
      throw new ApiError(response.status, code, message);
    }
    return body as T;
  };
  const id = (uploadId: string) => encodeURIComponent(uploadId);
  return {
    createForm: (body) => call<UploadForm>("/uploads/form", { method: "POST", body }),
    status: (uploadId) => call<UploadStatusView>(`/uploads/${id(uploadId)}`),
    async list(query = {}) {
      const params = new URLSearchParams();
      if (query.status) params.set("status", query.status);
      if (query.since) params.set("since", query.since);
      const search = params.toString() ? `?${params}` : "";
      return (await call<{ uploads: UploadListItem[] }>(`/uploads${search}`)).uploads;
    },
    redrive: (uploadId) =>
      call<{ uploadId: string; redriveDate: string }>(`/uploads/${id(uploadId)}/redrive`, {
        method: "POST",
        body: {},
      }),
  };
}
