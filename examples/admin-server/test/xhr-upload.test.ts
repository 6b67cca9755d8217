import { describe, expect, it } from "vitest";
import {
  putToSignedUrl,
  s3Refusal,
  TransferError,
  type TransferProgress,
  type XhrLike,
} from "../web/xhr-upload.ts";

/** What the browser's XMLHttpRequest does with a request, recorded; the test plays S3's side. */
class RecordingXhr implements XhrLike {
  method = "";
  url = "";
  headers: [string, string][] = [];
  body: unknown;
  aborted = false;
  status = 0;
  responseText = "";
  timeout = 0;
  upload: { onprogress: ((event: TransferProgress) => void) | null } = { onprogress: null };
  onload: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onabort: ((event: unknown) => void) | null = null;
  ontimeout: ((event: unknown) => void) | null = null;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers.push([name, value]);
  }
  send(body: never) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.({});
  }
  answer(status: number, body = "") {
    this.status = status;
    this.responseText = body;
    this.onload?.({});
  }
}

const form = {
  method: "PUT" as const,
  url: "https://sluice-uploads.s3.ap-northeast-2.amazonaws.com/uploads/forms/orders-0a1b2c3d4e5f.xlsx?X-Amz-Signature=abc",
  headers: {
    "content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "if-none-match": "*",
    "x-amz-meta-original-name": "%EC%A3%BC%EB%AC%B8.xlsx",
  },
};

describe("putToSignedUrl", () => {
  it("PUTs the body to the signed URL with exactly the form's headers and reports progress", async () => {
    const xhr = new RecordingXhr();
    const seen: TransferProgress[] = [];
    const body = { name: "the File object" };
    const done = putToSignedUrl(form, { body, createXhr: () => xhr, onProgress: (p) => seen.push(p) });
    expect([xhr.method, xhr.url]).toEqual(["PUT", form.url]);
    expect(xhr.headers).toEqual(Object.entries(form.headers));
    expect(xhr.body).toBe(body);
    xhr.upload.onprogress?.({ loaded: 10, total: 40, lengthComputable: true });
    xhr.upload.onprogress?.({ loaded: 40, total: 40, lengthComputable: true });
    xhr.answer(200);
    await done;
    expect(seen.map((p) => p.loaded)).toEqual([10, 40]);
  });

  it("rejects with S3's error code and what it means", async () => {
    const xhr = new RecordingXhr();
    const done = putToSignedUrl(form, { body: "x", createXhr: () => xhr });
    xhr.answer(
      403,
      '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>',
    );
    const error = (await done.catch((e: unknown) => e)) as TransferError;
    expect(error).toBeInstanceOf(TransferError);
    expect(error.status).toBe(403);
    expect(error.s3Code).toBe("SignatureDoesNotMatch");
    expect(error.message).toContain("did not match its signature");
  });

  it("a network or CORS failure and a cancel reject without a status", async () => {
    const broken = new RecordingXhr();
    const failed = putToSignedUrl(form, { body: "x", createXhr: () => broken });
    broken.onerror?.({});
    await expect(failed).rejects.toMatchObject({ status: 0, s3Code: null, message: /could not be sent/ });

    const cancelled = new RecordingXhr();
    const controller = new AbortController();
    const put = putToSignedUrl(form, { body: "x", createXhr: () => cancelled, signal: controller.signal });
    controller.abort();
    expect(cancelled.aborted).toBe(true);
    await expect(put).rejects.toMatchObject({ message: "The upload was cancelled." });
  });

  it("reads an S3 error without a known meaning as code and message", () => {
    const error = s3Refusal(400, "<Error><Code>InvalidArgument</Code><Message>Bad header</Message></Error>");
    expect(error.message).toBe("Storage refused the file (HTTP 400, InvalidArgument: Bad header).");
    expect(s3Refusal(502, "").message).toBe("Storage refused the file (HTTP 502).");
  });
});
