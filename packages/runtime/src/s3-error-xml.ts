import { randomUUID } from "node:crypto";

/** Text for an XML element or attribute. */
export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * An S3 REST error body ("The REST error response": `<Error><Code/><Message/>…<RequestId/><HostId/></Error>`), with
 * any further elements S3 adds for that error (HeadersNotSigned, Method, ResourceType...), in the order given.
 */
export function s3ErrorXml(code: string, message: string, details: Record<string, string> = {}): string {
  const element = (name: string, value: string) => `  <${name}>${escapeXml(value)}</${name}>`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<Error>`,
    element("Code", code),
    element("Message", message),
    ...Object.entries(details).map(([name, value]) => element(name, value)),
    element("RequestId", randomUUID().replaceAll("-", "").toUpperCase().slice(0, 16)),
    element("HostId", "sluice-local"),
    `</Error>`,
  ].join("\n");
}
