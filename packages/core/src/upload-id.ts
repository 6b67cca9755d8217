import { createHash } from "node:crypto";
import { uploadIdSlug } from "@sluice/contract/constants";

/**
 * A readable, deterministic upload id: `<file-name-slug>-<hash>`, at most 80 characters of [a-z0-9-], so it
 * can double as a Step Functions execution name and the same file version always gets the same id.
 * `fingerprint` is whatever identifies the version (S3 version id or etag; size and mtime for a local file).
 * (A signed upload form's key carries its own id instead: see the contract's upload-form.ts.)
 */
export function deriveUploadId(name: string, fingerprint: string): string {
  const hash = createHash("sha256").update(`${name}\u0000${fingerprint}`).digest("hex").slice(0, 12);
  return `${uploadIdSlug(name)}-${hash}`;
}
