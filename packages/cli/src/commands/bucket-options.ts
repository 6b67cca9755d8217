import { S3Client } from "@aws-sdk/client-s3";
import { InvalidOptionError } from "@sluice/core";

/**
 * Options of the commands that read what sluice wrote to the uploads bucket (defaults: what `sluice serve`
 * exports; in AWS the default credential chain and the stack output BucketName).
 */
export const BUCKET_OPTIONS = {
  bucket: { type: "string" },
  "s3-endpoint": { type: "string" },
} as const;

export const BUCKET_USAGE = `  --bucket NAME            the uploads bucket, read for the failure record (default: $SLUICE_BUCKET; the stack output
                           BucketName; unset: the bucket the upload came from, in the execution's input)
  --s3-endpoint URL        an S3 endpoint, e.g. the local emulator's (default: $AWS_ENDPOINT_URL_S3; unset: AWS)`;

export interface BucketTarget {
  /** Unset: the caller falls back to the bucket the upload came from. */
  bucket?: string;
  region: string;
  endpoint?: string;
}

export function bucketTarget(
  values: { bucket?: string; "s3-endpoint"?: string },
  region: string,
  env: NodeJS.ProcessEnv = process.env,
): BucketTarget {
  const bucket = values.bucket ?? (env.SLUICE_BUCKET || undefined);
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new InvalidOptionError(`--bucket must be an S3 bucket name, got ${JSON.stringify(bucket)}`);
  const endpoint = values["s3-endpoint"] ?? (env.AWS_ENDPOINT_URL_S3 || undefined);
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint))
    throw new InvalidOptionError(`--s3-endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  return { region, ...(bucket ? { bucket } : {}), ...(endpoint ? { endpoint } : {}) };
}

/**
 * An S3Client for the target. A custom endpoint is the local emulator: path-style addressing (as
 * `runtime.s3Client()`), and any credentials.
 */
export function s3ClientFor(target: BucketTarget, env: NodeJS.ProcessEnv = process.env): S3Client {
  const local = target.endpoint !== undefined && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE;
  return new S3Client({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint, forcePathStyle: true } : {}),
    ...(local ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {}),
  });
}
