import { createHash } from "node:crypto";

/**
 * A readable, deterministic upload id: `<file-name-slug>-<hash>`, at most 80 characters of [a-z0-9-], so it
 * can double as a Step Functions execution name and the same file version always gets the same id.
 * `fingerprint` is whatever identifies the version (S3 version id or etag; size and mtime for a local file).
 */
export function deriveUploadId(name: string, fingerprint: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const slug =
    base
      .replace(/\.[a-z0-9]{1,5}$/i, "")
      .normalize("NFKD")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60)
      .replace(/-+$/, "") || "upload";
  const hash = createHash("sha256").update(`${name}\u0000${fingerprint}`).digest("hex").slice(0, 12);
  return `${slug}-${hash}`;
}
