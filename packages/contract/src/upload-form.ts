/**
 * Browser uploads: the object key sluice chooses for a signed upload form, and the upload id the browser follows.
 *
 *   uploads/forms/<uploadId>.<ext>            a form's upload (no tenant)
 *   uploads/forms/<tenant>/<uploadId>.<ext>   a form's upload for one tenant
 *
 * Nothing in the key comes from the browser: the id is `<slug of the file name>-<random>`, the tenant is the admin
 * server's own, checked against TENANT_PATTERN. The original file name (any Unicode) travels as object metadata,
 * percent-encoded because S3 user metadata is ASCII. The start function names the execution after the id in a form
 * key, so the id createUploadForm returns is the one the browser follows.
 */
import { UPLOADS_PREFIX } from "./bucket-layout.ts";

export const FORM_UPLOADS_PREFIX = `${UPLOADS_PREFIX}forms/`;

/** The types a form accepts, by extension: the content type is signed, so S3 refuses any other. */
export const UPLOAD_FORM_CONTENT_TYPES = {
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  csv: "text/csv",
} as const;
export type UploadFormExtension = keyof typeof UPLOAD_FORM_CONTENT_TYPES;

/** User metadata (x-amz-meta-<name>) a form's object carries. */
export const UPLOAD_FORM_METADATA = { originalName: "original-name", tenant: "tenant" } as const;

/** An upload id: also a Step Functions execution name (at most 80 characters), so [a-z0-9-] only. */
export const UPLOAD_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$/;
export const TENANT_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** The readable half of an upload id: the file name without folder or extension, as [a-z0-9-], at most 60 long. */
export function uploadIdSlug(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return (
    base
      .replace(/\.[a-z0-9]{1,5}$/i, "")
      .normalize("NFKD")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60)
      .replace(/-+$/, "") || "upload"
  );
}

/** The key of a form's upload; throws a RangeError on an id or tenant outside their patterns. */
export function formUploadKey(input: {
  uploadId: string;
  extension: UploadFormExtension;
  tenant?: string | undefined;
}): string {
  if (!UPLOAD_ID_PATTERN.test(input.uploadId))
    throw new RangeError(`upload id ${JSON.stringify(input.uploadId)} is not [a-z0-9-], 1 to 80 long`);
  if (input.tenant !== undefined && !TENANT_PATTERN.test(input.tenant))
    throw new RangeError(`tenant ${JSON.stringify(input.tenant)} is not [a-z0-9-], 1 to 40 long`);
  if (!Object.hasOwn(UPLOAD_FORM_CONTENT_TYPES, input.extension))
    throw new RangeError(`extension ${JSON.stringify(input.extension)} is not one a form accepts`);
  const tenant = input.tenant === undefined ? "" : `${input.tenant}/`;
  return `${FORM_UPLOADS_PREFIX}${tenant}${input.uploadId}.${input.extension}`;
}

const FORM_KEY = /^uploads\/forms\/(?:([a-z0-9-]{1,40})\/)?([a-z0-9-]{1,80})\.(xlsx|csv)$/;

/** The upload id and tenant of a form's key, or undefined for any other key (those keep their derived id). */
export function parseFormUploadKey(
  key: string,
): { uploadId: string; tenant?: string; extension: UploadFormExtension } | undefined {
  const match = FORM_KEY.exec(key);
  if (!match) return undefined;
  const [, tenant, uploadId, extension] = match;
  if (!UPLOAD_ID_PATTERN.test(uploadId!) || (tenant !== undefined && !TENANT_PATTERN.test(tenant)))
    return undefined;
  return {
    uploadId: uploadId!,
    ...(tenant === undefined ? {} : { tenant }),
    extension: extension as UploadFormExtension,
  };
}
