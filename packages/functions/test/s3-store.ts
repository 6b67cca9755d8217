import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { body, serviceError } from "./factories.ts";

/**
 * S3 as a map of objects behind aws-sdk-client-mock: GetObject serves them, PutObject (also what lib-storage's
 * Upload sends for a small body) stores them, ListObjectsV2 lists them. Keys are `bucket/key`.
 */
export function s3Store() {
  const mock = mockClient(S3Client);
  const objects = new Map<string, Buffer>();
  const reads: string[] = [];
  const install = () => {
    mock.on(GetObjectCommand).callsFake((input) => {
      const id = `${input.Bucket}/${input.Key}`;
      reads.push(id);
      const content = objects.get(id);
      if (content === undefined) throw serviceError("NoSuchKey", "The specified key does not exist.", 404);
      return { Body: body(content) };
    });
    mock.on(PutObjectCommand).callsFake(async (input) => {
      objects.set(`${input.Bucket}/${input.Key}`, await toBuffer(input.Body));
      return { ETag: '"etag"' };
    });
    mock.on(ListObjectsV2Command).callsFake((input) => ({
      Contents: [...objects.keys()]
        .filter((id) => id.startsWith(`${input.Bucket}/${input.Prefix ?? ""}`))
        .map((id) => ({ Key: id.slice(String(input.Bucket).length + 1), LastModified: new Date(0) })),
    }));
  };
  install();
  return {
    mock,
    objects,
    reads,
    client: () => new S3Client({ region: "eu-west-1" }),
    put(bucket: string, key: string, content: string | Buffer | object) {
      const bytes =
        typeof content === "string" || Buffer.isBuffer(content) ? content : JSON.stringify(content);
      objects.set(`${bucket}/${key}`, Buffer.from(bytes));
    },
    get(bucket: string, key: string): Buffer | undefined {
      return objects.get(`${bucket}/${key}`);
    },
    reset() {
      mock.reset();
      objects.clear();
      reads.length = 0;
      install();
    },
  };
}

async function toBuffer(value: unknown): Promise<Buffer> {
  if (typeof value === "string") return Buffer.from(value);
  if (value instanceof Uint8Array) return Buffer.from(value);
  const parts: Buffer[] = [];
  for await (const part of value as AsyncIterable<Uint8Array | string>) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** A minimal RFC 4180 reader for the tests: quoted fields, doubled quotes, CRLF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}
