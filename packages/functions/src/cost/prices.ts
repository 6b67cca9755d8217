/**
 * The prices an upload's cost estimate uses: on-demand list prices for us-east-1 (US East, N. Virginia), free
 * tiers left out. Every figure names the AWS pricing page it belongs to (`source`), where it was actually read
 * (`readFrom`: the AWS page itself, or a third-party page where the stored copy of AWS's page had no rate
 * table), and when (`readOn`). See docs/aws-semantics-research.md, sections 11, 13 and 15. Check the third-party
 * figures against the live pricing pages (or the AWS Price List API) before quoting an estimate as a bill.
 */
export interface Price {
  /** US dollars per `per` units. */
  usd: number;
  per: number;
  /** What one unit is. */
  unit: string;
  /** The AWS pricing page the figure belongs to. */
  source: string;
  /** Where the figure was read: `source` itself, or a third-party page (named) that quotes it. */
  readFrom: string;
  /** When the figure was read (ISO date). */
  readOn: string;
  note?: string;
}

export const PRICES_REGION = "us-east-1";
/** The day the figures below were read (through the research notes). */
export const PRICES_READ_ON = "2026-11-30";

/** SQS bills each 64 KiB of a request's payload as one request. */
export const SQS_BILLING_UNIT_BYTES = 64 * 1024;

export const PRICES = Object.freeze({
  /** Step Functions Standard: every state entered, every retry, every child execution a Distributed Map starts. */
  stateTransition: {
    usd: 0.025,
    per: 1000,
    unit: "state transition (Standard workflow)",
    source: "https://aws.amazon.com/step-functions/pricing/",
    readFrom: "https://aws.amazon.com/step-functions/pricing/ (AWS; research notes section 11)",
    readOn: PRICES_READ_ON,
    note: "US East (N. Virginia) $0.0250 per 1,000; 4,000 free transitions a month are not applied",
  },
  sqsRequest: {
    usd: 0.4,
    per: 1_000_000,
    unit: "SQS standard-queue request (each 64 KiB of payload is one request)",
    source: "https://aws.amazon.com/sqs/pricing/",
    readFrom:
      "https://cloudburn.io/blog/amazon-sqs-pricing (third party, March 2026; research notes section 13): the stored copy of the AWS page had no rate table",
    readOn: PRICES_READ_ON,
    note: "first 100 billion requests a month; 1 million free requests a month are not applied",
  },
  lambdaGbSecond: {
    usd: 0.0000133334,
    per: 1,
    unit: "Lambda GB-second (arm64)",
    source: "https://aws.amazon.com/lambda/pricing/",
    readFrom:
      "cloudchipr.com (third party; research notes section 15): the stored copy of the AWS page had no rate table",
    readOn: PRICES_READ_ON,
    note: "first 7.5 billion GB-seconds a month; duration is rounded up to 1 ms; the free tier is not applied",
  },
  lambdaRequest: {
    usd: 0.2,
    per: 1_000_000,
    unit: "Lambda request",
    source: "https://aws.amazon.com/lambda/pricing/",
    readFrom:
      "the long-standing list price; no stored page confirmed it (research notes section 15): check the AWS page",
    readOn: PRICES_READ_ON,
  },
  s3Get: {
    usd: 0.0004,
    per: 1000,
    unit: "S3 Standard GET/SELECT/HEAD request",
    source: "https://aws.amazon.com/s3/pricing/",
    readFrom:
      "c3x.dev (third party; research notes section 15): the stored copy of the AWS page had no rate table",
    readOn: PRICES_READ_ON,
  },
  s3Put: {
    usd: 0.005,
    per: 1000,
    unit: "S3 Standard PUT/COPY/POST/LIST request",
    source: "https://aws.amazon.com/s3/pricing/",
    readFrom:
      "c3x.dev (third party; research notes section 15): the stored copy of the AWS page had no rate table",
    readOn: PRICES_READ_ON,
    note: "CreateMultipartUpload, UploadPart and CompleteMultipartUpload are each one PUT-class request",
  },
} satisfies Record<string, Price>);

export type Prices = { readonly [K in keyof typeof PRICES]: Price };
