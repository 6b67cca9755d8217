import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { formUploadKey, UPLOAD_FORM_METADATA } from "@sluice/contract";
import { deriveUploadId } from "@sluice/core";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { UPLOAD_CORS_RULE } from "@sluice/workflow";
import { describe, expect, it } from "vitest";
import type { LocalRuntime, RuntimeEvent } from "../src/local-runtime.ts";

useRuntimeCleanup();
failOnCrash();

/**
 * A browser's upload through a signed upload form, against the emulator: a presigned PUT whose URL signs the
 * content type, the exact length, If-None-Match: * and the x-amz-meta-* headers (the form @sluice/admin makes).
 * Each refusal below is one S3 makes; the emulator must make it too, since the page uploads to it from a real
 * browser.
 */

const ORIGIN = "http://127.0.0.1:5173";
const CSV_TYPE = "text/csv";
const NAME = "주문 목록 (3월).csv";

interface Form {
  key: string;
  url: string;
  headers: Record<string, string>;
}

/** Signs a PUT the way an upload form does: the listed headers stay headers and are signed. */
async function signForm(
  runtime: LocalRuntime,
  body: Uint8Array<ArrayBuffer>,
  options: { uploadId?: string; expiresIn?: number; signingDate?: Date } = {},
): Promise<Form> {
  const key = formUploadKey({ uploadId: options.uploadId ?? "orders-march-0123456789ab", extension: "csv" });
  const metadata = { [UPLOAD_FORM_METADATA.originalName]: encodeURIComponent(NAME) };
  // No body checksum: the SDK would sign the CRC32 of the (empty) body it sees when signing.
  const client = new S3Client({
    ...runtime.emulator.clientConfig,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  const url = await getSignedUrl(
    client,
    new PutObjectCommand({
      Bucket: runtime.bucket,
      Key: key,
      ContentType: CSV_TYPE,
      ContentLength: body.length,
      IfNoneMatch: "*",
      Metadata: metadata,
    }),
    {
      expiresIn: options.expiresIn ?? 900,
      ...(options.signingDate ? { signingDate: options.signingDate } : {}),
      signableHeaders: new Set(["content-type", "content-length", "if-none-match"]),
      unhoistableHeaders: new Set(Object.keys(metadata).map((name) => `x-amz-meta-${name}`)),
    },
  );
  client.destroy();
  const headers: Record<string, string> = { "content-type": CSV_TYPE, "if-none-match": "*" };
  for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
  return { key, url, headers };
}

function put(form: Form, body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = form.headers) {
  return fetch(form.url, { method: "PUT", headers, body });
}

/** S3's error document: code, message and the extra elements. */
async function s3Error(response: Response): Promise<Record<string, string>> {
  const xml = await response.text();
  return Object.fromEntries(
    [...xml.matchAll(/<([\w-]+)>([^<]*)<\/\1>/g)].map(([, name, value]) => [name, value]),
  );
}

/** The current version id stored under a key; undefined when nothing is (every write was refused). */
async function storedVersion(runtime: LocalRuntime, key: string): Promise<string | undefined> {
  try {
    const head = await runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: runtime.bucket, Key: key }));
    return head.VersionId;
  } catch (error) {
    if ((error as Error).name === "NotFound") return undefined;
    throw error;
  }
}

const csvBody = (rows = 30) => new Uint8Array(ordersCsv(rows));

describe("a presigned PUT to the local bucket, checked as S3 checks it", () => {
  it("lands with the signed headers, and its S3 event starts the upload named after the form's id", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 10 } });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const started = new Promise<Extract<RuntimeEvent, { type: "upload_started" }>>((resolve) =>
      runtime.on("progress", (e: RuntimeEvent) => e.type === "upload_started" && resolve(e)),
    );
    const body = csvBody();
    const form = await signForm(runtime, body);
    const response = await put(form, body);
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get("x-amz-version-id")).toBeTruthy();
    const event = await started;
    expect(event).toMatchObject({ uploadId: "orders-march-0123456789ab", key: form.key, duplicate: false });
    const execution = await runtime.waitForExecution(event.executionArn);
    expect(execution.status).toBe("SUCCEEDED");
    // The original name travelled as metadata into the manifest and the summary.
    const read = async (name: string) =>
      JSON.parse(
        await (
          await runtime.emulator.s3.send(
            new GetObjectCommand({
              Bucket: runtime.bucket,
              Key: `processed/orders-march-0123456789ab/${name}`,
            }),
          )
        ).Body!.transformToString(),
      );
    expect((await read("manifest.json")).originalName).toBe(NAME);
    expect((await read("summary.json")).originalName).toBe(NAME);
  });

  it("refuses another content type than the signed one: 403 SignatureDoesNotMatch, nothing stored", async () => {
    const runtime = await runtimeWith();
    const body = csvBody();
    const form = await signForm(runtime, body);
    const response = await put(form, body, { ...form.headers, "content-type": "application/pdf" });
    expect(response.status).toBe(403);
    expect(await s3Error(response)).toMatchObject({
      Code: "SignatureDoesNotMatch",
      Message:
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    });
    expect(await storedVersion(runtime, form.key)).toBeUndefined();
  });

  it("refuses a body larger than the signed size: 403 SignatureDoesNotMatch, nothing stored", async () => {
    const runtime = await runtimeWith();
    const signed = csvBody(30);
    const form = await signForm(runtime, signed);
    const larger = csvBody(31);
    expect(larger.length).toBeGreaterThan(signed.length);
    const response = await put(form, larger);
    expect(response.status).toBe(403);
    expect((await s3Error(response)).Code).toBe("SignatureDoesNotMatch");
    expect(await storedVersion(runtime, form.key)).toBeUndefined();
  });

  it("refuses tampered metadata: a changed or missing signed header, or an unsigned x-amz-meta-* one", async () => {
    const runtime = await runtimeWith();
    const body = csvBody();
    const form = await signForm(runtime, body);
    const name = `x-amz-meta-${UPLOAD_FORM_METADATA.originalName}`;
    const changed = await put(form, body, { ...form.headers, [name]: encodeURIComponent("invoice.csv") });
    expect(changed.status).toBe(403);
    expect((await s3Error(changed)).Code).toBe("SignatureDoesNotMatch");
    const { [name]: _dropped, ...withoutName } = form.headers;
    const missing = await put(form, body, withoutName);
    expect(missing.status).toBe(403);
    expect((await s3Error(missing)).Code).toBe("SignatureDoesNotMatch");
    const added = await put(form, body, { ...form.headers, "x-amz-meta-tenant": "someone-else" });
    expect(added.status).toBe(403);
    expect(await s3Error(added)).toMatchObject({
      Code: "AccessDenied",
      Message: "There were headers present in the request which were not signed",
      HeadersNotSigned: "x-amz-meta-tenant",
    });
    expect(await storedVersion(runtime, form.key)).toBeUndefined();
  });

  it("refuses an expired URL: 403 AccessDenied, Request has expired", async () => {
    const runtime = await runtimeWith();
    const body = csvBody();
    const signedAt = new Date(Date.now() - 10 * 60 * 1000);
    const form = await signForm(runtime, body, { expiresIn: 60, signingDate: signedAt });
    const response = await put(form, body);
    expect(response.status).toBe(403);
    const error = await s3Error(response);
    expect(error).toMatchObject({
      Code: "AccessDenied",
      Message: "Request has expired",
      "X-Amz-Expires": "60",
    });
    expect(Date.parse(error.Expires!)).toBe(Math.floor(signedAt.getTime() / 1000) * 1000 + 60_000);
    expect(await storedVersion(runtime, form.key)).toBeUndefined();
  });

  it("refuses a second PUT to the form's key (If-None-Match: *): 412, one version, one execution", async () => {
    const runtime = await runtimeWith();
    const body = csvBody();
    const form = await signForm(runtime, body);
    const first = await put(form, body);
    expect(first.status).toBe(200);
    const again = await put(form, body);
    expect(again.status).toBe(412);
    expect((await s3Error(again)).Code).toBe("PreconditionFailed");
    expect(await storedVersion(runtime, form.key)).toBe(first.headers.get("x-amz-version-id"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(runtime.workflow.all.map((e) => e.name)).toEqual(["orders-march-0123456789ab"]);
  });

  it("another version written to the form's key by other means starts under its derived id, never dropped", async () => {
    const runtime = await runtimeWith();
    const started: Extract<RuntimeEvent, { type: "upload_started" }>[] = [];
    runtime.on("progress", (e: RuntimeEvent) => e.type === "upload_started" && started.push(e));
    const body = csvBody();
    const form = await signForm(runtime, body);
    expect((await put(form, body)).status).toBe(200);
    // Someone allowed to PUT there without the form's condition (an SDK client, the console).
    const s3 = runtime.s3Client();
    const second = await s3.send(
      new PutObjectCommand({ Bucket: runtime.bucket, Key: form.key, Body: ordersCsv(12) }),
    );
    s3.destroy();
    await expect.poll(() => started.length).toBe(2);
    expect(started.map((e) => [e.uploadId, e.duplicate])).toEqual([
      ["orders-march-0123456789ab", false],
      [deriveUploadId(form.key, second.VersionId!), false],
    ]);
    const executions = await Promise.all(started.map((e) => runtime.workflow.get(e.executionArn)!));
    expect(executions.map((e) => (e.input as { source: { versionId: string } }).source.versionId)).toEqual([
      started[0]!.versionId,
      second.VersionId,
    ]);
  });

  it("serves a presigned GET (a report link) signed with the emulator's credentials, and refuses one signed with others", async () => {
    const runtime = await runtimeWith();
    const s3 = runtime.s3Client();
    await s3.send(
      new PutObjectCommand({
        Bucket: runtime.bucket,
        Key: "processed/x/rejected-rows.csv",
        Body: "Row\n2\n",
      }),
    );
    const url = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: runtime.bucket, Key: "processed/x/rejected-rows.csv" }),
    );
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("Row\n2\n");
    const stranger = new S3Client({
      ...runtime.emulator.clientConfig,
      credentials: { accessKeyId: "someone", secretAccessKey: "else" },
      forcePathStyle: true,
    });
    const refused = await fetch(
      await getSignedUrl(
        stranger,
        new GetObjectCommand({ Bucket: runtime.bucket, Key: "processed/x/rejected-rows.csv" }),
      ),
    );
    expect(refused.status).toBe(403);
    expect((await s3Error(refused)).Code).toBe("InvalidAccessKeyId");
    const otherKey = await fetch(url.replace("rejected-rows.csv", "summary.json"));
    expect(otherKey.status).toBe(403);
    expect((await s3Error(otherKey)).Code).toBe("SignatureDoesNotMatch");
    s3.destroy();
    stranger.destroy();
  });

  it("If-None-Match: * counts only the current version: a key whose current version is a delete marker may be written", async () => {
    const runtime = await runtimeWith();
    const s3 = runtime.s3Client();
    const key = "somewhere/else.csv";
    const write = () =>
      s3.send(new PutObjectCommand({ Bucket: runtime.bucket, Key: key, Body: "a,b\n", IfNoneMatch: "*" }));
    await write();
    await expect(write()).rejects.toMatchObject({
      name: "PreconditionFailed",
      $metadata: { httpStatusCode: 412 },
    });
    await s3.send(new DeleteObjectCommand({ Bucket: runtime.bucket, Key: key }));
    await expect(write()).resolves.toMatchObject({ VersionId: expect.any(String) });
    s3.destroy();
  });
});

describe("the local bucket's CORS, as S3 answers it", () => {
  /** The preflight a browser sends before the form's PUT. */
  const preflight = (form: Form, origin: string, headers = Object.keys(form.headers).sort().join(",")) =>
    fetch(form.url, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "PUT",
        "access-control-request-headers": headers,
      },
    });

  it("answers a preflight from an allowed origin with the rule, and the PUT's response lets the page read it", async () => {
    const runtime = await runtimeWith({ corsOrigins: [ORIGIN] });
    const body = csvBody();
    const form = await signForm(runtime, body);
    const answer = await preflight(form, ORIGIN);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(answer.headers.get("access-control-allow-methods")).toBe("PUT");
    expect(answer.headers.get("access-control-allow-headers")).toBe(
      "content-type, if-none-match, x-amz-meta-original-name",
    );
    expect(answer.headers.get("access-control-max-age")).toBe(String(UPLOAD_CORS_RULE.maxAgeSeconds));
    const response = await put(form, body, { ...form.headers, origin: ORIGIN });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(response.headers.get("access-control-expose-headers")).toBe("ETag, x-amz-version-id");
  });

  it("refuses a preflight from another origin, or asking for a header the rule does not allow: 403, no Access-Control-*", async () => {
    const runtime = await runtimeWith({ corsOrigins: [ORIGIN] });
    const form = await signForm(runtime, csvBody());
    for (const answer of [
      await preflight(form, "https://evil.example.com"),
      await preflight(form, ORIGIN, "content-type,x-amz-acl"),
    ]) {
      expect(answer.status).toBe(403);
      expect((await s3Error(answer)).Code).toBe("AccessForbidden");
      const names: string[] = [];
      answer.headers.forEach((_value, name) => {
        names.push(name);
      });
      expect(names.filter((name) => name.startsWith("access-control-"))).toEqual([]);
    }
  });

  it("refuses every preflight when no origin is allowed (the default: no CORS rule)", async () => {
    const runtime = await runtimeWith();
    const form = await signForm(runtime, csvBody());
    const answer = await preflight(form, ORIGIN);
    expect(answer.status).toBe(403);
    expect(await s3Error(answer)).toMatchObject({
      Code: "AccessForbidden",
      Message: "CORSResponse: CORS is not enabled for this bucket.",
    });
  });
});
