/**
 * Sends the file straight to S3 with the signed PUT: XMLHttpRequest, because fetch cannot report upload progress.
 * The request carries exactly the form's headers (each one is signed; a missing or changed one makes S3 refuse the
 * request), and the browser sets Content-Length from the body, which is signed too.
 */
import type { UploadForm } from "@sluice/admin";

export interface TransferProgress {
  loaded: number;
  total: number;
  lengthComputable: boolean;
}

// A method-style signature is checked bivariantly, so the DOM's XMLHttpRequest (whose handlers take a
// ProgressEvent) fits this interface without a cast.
type ProgressHandler = { handle(event: TransferProgress): void }["handle"];
type Handler = { handle(event: unknown): void }["handle"];

/** The part of XMLHttpRequest this module uses (the browser's, or a test's). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: never): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  timeout: number;
  upload: { onprogress: ProgressHandler | null };
  onload: Handler | null;
  onerror: Handler | null;
  onabort: Handler | null;
  ontimeout: Handler | null;
}

export class TransferError extends Error {
  constructor(
    message: string,
    /** The HTTP status S3 answered (0: no answer: network, CORS, abort). */
    readonly status: number,
    /** S3's error code (`SignatureDoesNotMatch`, `PreconditionFailed`...), when it sent one. */
    readonly s3Code: string | null,
  ) {
    super(message);
    this.name = "TransferError";
  }
}

export interface PutOptions<Body> {
  body: Body;
  createXhr: () => XhrLike;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
  /** Milliseconds for the whole transfer; 0 (the default): no limit. */
  timeoutMs?: number;
}

/** PUTs `body` to the form's URL; resolves once S3 answered 2xx, rejects with a TransferError otherwise. */
export function putToSignedUrl<Body>(
  form: Pick<UploadForm, "method" | "url" | "headers">,
  options: PutOptions<Body>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = options.createXhr();
    xhr.open(form.method, form.url);
    for (const [name, value] of Object.entries(form.headers)) xhr.setRequestHeader(name, value);
    xhr.timeout = options.timeoutMs ?? 0;
    xhr.upload.onprogress = (event) => options.onProgress?.(event);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(s3Refusal(xhr.status, xhr.responseText));
    };
    xhr.onerror = () =>
      reject(
        new TransferError(
          "The file could not be sent to storage (the connection failed or storage refused this page's origin).",
          0,
          null,
        ),
      );
    xhr.ontimeout = () =>
      reject(new TransferError("Sending the file took too long and was stopped.", 0, null));
    xhr.onabort = () => reject(new TransferError("The upload was cancelled.", 0, null));
    options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(options.body as never);
  });
}

const WHAT_IT_MEANS: Record<string, string> = {
  SignatureDoesNotMatch: "the request did not match its signature (was the file or a header changed?)",
  AccessDenied: "storage refused the signed request (it may have expired: pick the file again)",
  PreconditionFailed: "a file was already uploaded with this form (pick the file again for a new one)",
  EntityTooLarge: "the file is larger than the form allows",
  RequestTimeTooSkewed: "this computer's clock is too far off",
};

/** S3 answers errors as XML (`<Error><Code>…</Code><Message>…</Message></Error>`): the page shows both. */
export function s3Refusal(status: number, body: string): TransferError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? null;
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? null;
  const meaning = code ? WHAT_IT_MEANS[code] : undefined;
  const detail = [code, meaning ?? message].filter(Boolean).join(": ");
  return new TransferError(
    `Storage refused the file (HTTP ${status}${detail ? `, ${detail}` : ""}).`,
    status,
    code,
  );
}
