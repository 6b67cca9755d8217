import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/** Makes a link to a report object for an alert: a URL in Lambda, a file path in the local runtime. */
export type ReportLink = (bucket: string, key: string) => Promise<string>;

/** SigV4's longest presigned validity. */
export const REPORT_LINK_SECONDS = 7 * 24 * 3600;

/**
 * Presigned GetObject URLs, valid for `expiresIn` seconds (7 days by default). A URL signed with a Lambda
 * role's temporary credentials stops working when those credentials expire (hours, not days), whatever
 * `expiresIn` says: the alerts also name the object and link it in the S3 console.
 */
export function presignedReportLink(s3: S3Client, expiresIn: number = REPORT_LINK_SECONDS): ReportLink {
  return (bucket, key) => getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
}
