import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { bodyToBuffer } from "./s3-body.ts";

const MapRunManifestSchema = z.object({
  ResultFiles: z.object({ FAILED: z.array(z.object({ Key: z.string() })).default([]) }).passthrough(),
});
const FailedChildSchema = z.object({
  Error: z.string().optional(),
  Cause: z.string().optional(),
  Status: z.string(),
});

export interface FailedChild {
  error: string;
  cause: string;
}

/**
 * When a Distributed Map fails, its own error only says the tolerated failures were exceeded; the failed
 * chunk and its real error are in the Map Run's FAILED result files under the upload's processed prefix.
 * Returns the first failed child's error and cause, or undefined when there is none to find.
 */
export async function firstFailedChild(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<FailedChild | undefined> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    // The Map Run's manifest sits one folder down (<prefix><map-run-id>/manifest.json), not the upload's manifest.
    const manifests = (page.Contents ?? [])
      .map((o) => o.Key ?? "")
      .filter((key) => key.startsWith(prefix) && /^[^/]+\/manifest\.json$/.test(key.slice(prefix.length)));
    for (const key of manifests) {
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const manifest = MapRunManifestSchema.safeParse(
        JSON.parse((await bodyToBuffer(body.Body)).toString("utf8")),
      );
      if (!manifest.success) continue;
      for (const file of manifest.data.ResultFiles.FAILED) {
        const results = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: file.Key }));
        const children = z
          .array(FailedChildSchema)
          .safeParse(JSON.parse((await bodyToBuffer(results.Body)).toString("utf8")));
        const failed = children.success
          ? children.data.find((c) => c.Status === "FAILED" && c.Error)
          : undefined;
        if (failed) return { error: failed.Error!, cause: failed.Cause ?? "" };
      }
    }
    token = page.NextContinuationToken;
  } while (token);
  return undefined;
}
