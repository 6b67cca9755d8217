import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { createSluiceAdmin, type SluiceAdminError } from "@sluice/admin";
import { FORM_UPLOADS_PREFIX, parseFormUploadKey, UPLOAD_FORM_CONTENT_TYPES } from "@sluice/contract";
import { describe, expect, it } from "vitest";

const NOW = Date.parse("2026-03-01T09:00:00.000Z");
const STATE_MACHINE = "arn:aws:states:ap-northeast-2:123456789012:stateMachine:sluice-prod-upload";
const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

function admin() {
  return createSluiceAdmin({
    s3: new S3Client({ region: "ap-northeast-2", credentials }),
    sfn: new SFNClient({ region: "ap-northeast-2", credentials }),
    bucket: "sluice-prod-uploads",
    stateMachineArn: STATE_MACHINE,
    now: () => NOW,
  });
}

async function refusal(promise: Promise<unknown>): Promise<SluiceAdminError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected a refusal").toBeInstanceOf(Error);
  return error as SluiceAdminError;
}

describe("createUploadForm: the presigned PUT", () => {
  it("signs the type, the exact size, if-none-match and the metadata as headers, nothing hoisted into the query", async () => {
    const form = await admin().createUploadForm({
      fileName: "주문 목록 2026-03.xlsx",
      size: 123_456,
      contentType: UPLOAD_FORM_CONTENT_TYPES.xlsx,
      maxBytes: 10 * 1024 * 1024,
      tenant: "acme",
      metadata: { "uploaded-by": "김민준 <minjun@example.com>" },
    });
    const url = new URL(form.url);
    const query = Object.fromEntries(url.searchParams);
    expect(query["X-Amz-SignedHeaders"]!.split(";")).toEqual([
      "content-length",
      "content-type",
      "host",
      "if-none-match",
      "x-amz-meta-original-name",
      "x-amz-meta-tenant",
      "x-amz-meta-uploaded-by",
    ]);
    expect(query["X-Amz-Expires"]).toBe("900");
    expect(query["X-Amz-Date"]).toBe("20260301T090000Z");
    expect(query["X-Amz-Credential"]).toBe("AKIDEXAMPLE/20260301/ap-northeast-2/s3/aws4_request");
    // No header left in the query but the signature's own, and no checksum of the (empty) body at signing time.
    expect(
      Object.keys(query).filter(
        (name) =>
          !/^X-Amz-(Algorithm|Content-Sha256|Credential|Date|Expires|Signature|SignedHeaders)$/.test(name) &&
          name !== "x-id",
      ),
    ).toEqual([]);
    expect(Object.keys(query).filter((name) => /checksum|meta/i.test(name))).toEqual([]);

    expect(form.method).toBe("PUT");
    expect(form.key).toMatch(/^uploads\/forms\/acme\/2026-03-[0-9a-f]{12}\.xlsx$/);
    expect(`${url.host}${url.pathname}`).toBe(
      `sluice-prod-uploads.s3.ap-northeast-2.amazonaws.com/${form.key}`,
    );
    expect(parseFormUploadKey(form.key)).toEqual({
      uploadId: form.uploadId,
      tenant: "acme",
      extension: "xlsx",
    });
    expect(form.headers).toEqual({
      "content-type": UPLOAD_FORM_CONTENT_TYPES.xlsx,
      "if-none-match": "*",
      "x-amz-meta-original-name": encodeURIComponent("주문 목록 2026-03.xlsx"),
      "x-amz-meta-tenant": "acme",
      "x-amz-meta-uploaded-by": encodeURIComponent("김민준 <minjun@example.com>"),
    });
    expect(decodeURIComponent(form.headers["x-amz-meta-original-name"]!)).toBe("주문 목록 2026-03.xlsx");
    expect(form.expiresAt).toBe("2026-03-01T09:15:00.000Z");
    expect(form.maxBytes).toBe(10 * 1024 * 1024);
  });

  it("chooses the key: the slug of the name and 12 random hex characters, nothing else from the file name", async () => {
    const forms = await Promise.all(
      ["../../etc/passwd.csv", "C:\\fakepath\\Orders (final).CSV", "주문.csv"].map((fileName) =>
        admin().createUploadForm({ fileName, size: 10, maxBytes: 100 }),
      ),
    );
    expect(forms.map((form) => form.key.replace(/[0-9a-f]{12}\./, "<random>."))).toEqual([
      `${FORM_UPLOADS_PREFIX}passwd-<random>.csv`,
      `${FORM_UPLOADS_PREFIX}orders-final-<random>.csv`,
      `${FORM_UPLOADS_PREFIX}upload-<random>.csv`,
    ]);
    expect(new Set(forms.map((form) => form.uploadId)).size).toBe(3);
    for (const form of forms) expect(form.headers["content-type"]).toBe("text/csv");
  });

  it("takes expiresInSeconds from 1 to 7 days", async () => {
    const form = await admin().createUploadForm({
      fileName: "a.csv",
      size: 1,
      maxBytes: 1,
      expiresInSeconds: 604_800,
    });
    expect(new URL(form.url).searchParams.get("X-Amz-Expires")).toBe("604800");
    expect(form.expiresAt).toBe("2026-03-08T09:00:00.000Z");
    for (const expiresInSeconds of [0, 604_801, 1.5])
      expect(
        (
          await refusal(
            admin().createUploadForm({ fileName: "a.csv", size: 1, maxBytes: 1, expiresInSeconds }),
          )
        ).code,
      ).toBe("INVALID_OPTION");
  });

  it.each([
    ["a file over maxBytes", { size: 101 }, "UPLOAD_TOO_LARGE"],
    ["an empty file", { size: 0 }, "INVALID_OPTION"],
    ["a size that is not a whole number", { size: 1.5 }, "INVALID_OPTION"],
    ["maxBytes over S3's 5 GiB single PUT", { maxBytes: 5 * 1024 ** 3 + 1 }, "INVALID_OPTION"],
    ["a legacy .xls", { fileName: "orders.xls" }, "UPLOAD_TYPE_NOT_ALLOWED"],
    ["no extension", { fileName: "orders" }, "UPLOAD_TYPE_NOT_ALLOWED"],
    ["an ODS", { fileName: "orders.ods" }, "UPLOAD_TYPE_NOT_ALLOWED"],
    [
      "a browser type that is not the extension's",
      { contentType: "application/pdf" },
      "UPLOAD_TYPE_NOT_ALLOWED",
    ],
    ["a csv type for an xlsx", { contentType: "text/csv" }, "UPLOAD_TYPE_NOT_ALLOWED"],
    ["a tenant outside TENANT_PATTERN", { tenant: "../acme" }, "INVALID_OPTION"],
    ["a metadata key that is no header name", { metadata: { "Uploaded By": "x" } }, "INVALID_OPTION"],
    ["sluice's own metadata key", { metadata: { "original-name": "x" } }, "INVALID_OPTION"],
    ["metadata over S3's 2 KB", { metadata: { note: "가".repeat(300) } }, "INVALID_OPTION"],
    ["a file name with a lone surrogate", { fileName: "\ud800.xlsx" }, "INVALID_OPTION"],
  ] as const)("refuses %s", async (_, change, code) => {
    const error = await refusal(
      admin().createUploadForm({ fileName: "orders.xlsx", size: 100, maxBytes: 100, ...change }),
    );
    expect(error.name).toBe("SluiceAdminError");
    expect(error.code).toBe(code);
  });

  it.each([
    ["orders.xlsx", undefined],
    ["orders.XLSX", ""],
    ["orders.xlsx", "application/octet-stream"],
    ["orders.csv", "text/csv"],
    ["orders.csv", "application/vnd.ms-excel"],
    ["orders.csv", "TEXT/CSV; charset=utf-8"],
  ])("takes %s reported as %j", async (fileName, contentType) => {
    const form = await admin().createUploadForm({
      fileName,
      size: 100,
      maxBytes: 100,
      ...(contentType === undefined ? {} : { contentType }),
    });
    expect(form.headers["content-type"]).toBe(
      fileName.toLowerCase().endsWith(".csv")
        ? UPLOAD_FORM_CONTENT_TYPES.csv
        : UPLOAD_FORM_CONTENT_TYPES.xlsx,
    );
  });
});
